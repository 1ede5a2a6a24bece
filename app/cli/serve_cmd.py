"""`gtm serve` (the web app) and `gtm setup` (demo data + knowledge base, what `make run` does first)."""

from __future__ import annotations

import argparse
import asyncio
import os


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and `setup`."""
    serve = sub.add_parser("serve", help="start the web app (chat at /chat)")
    serve.add_argument("--host", help="address to listen on (default: the GTM_HOST setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: the GTM_PORT setting, 8000)")
    serve.set_defaults(func=run_serve)
    setup = sub.add_parser("setup", help="prepare GTM_HOME: seed demo data if empty, ingest the knowledge base")
    setup.add_argument("--force-seed", action="store_true", help="re-seed the demo data even if present")
    setup.set_defaults(func=run_setup)


def serve_address(args: argparse.Namespace) -> tuple[str, int]:
    """Where `gtm serve` listens: `--host`/`--port` when given, else the settings (`GTM_HOST`, `GTM_PORT`)."""
    from app.settings import get_settings

    settings = get_settings()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    return host, port


def run_serve(args: argparse.Namespace) -> int:
    """Serve the app with uvicorn."""
    import uvicorn

    from app.settings import REPO_ROOT
    from app.web.server import create_app

    host, port = serve_address(args)
    os.environ.setdefault("CHAINLIT_APP_ROOT", str(REPO_ROOT))
    print(f"GTM Copilot on http://{host}:{port}/chat")
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
    return 0


def run_setup(args: argparse.Namespace) -> int:
    """Seed the demo company (once), bring the knowledge base index up to date and save the start-up vectors."""
    from app.data.db import is_seeded
    from app.data.seed import seed_demo
    from app.kb.service import get_knowledge_base
    from app.services import ClassifierRouter, KnowledgeAdapter, business_engine
    from app.settings import get_settings

    settings = get_settings()
    engine = business_engine(settings)
    if args.force_seed or (settings.demo_mode and not is_seeded(engine)):
        report = seed_demo(engine)
        print(f"seeded demo data: {report}")
    else:
        print("demo data present")
    ingest = get_knowledge_base(settings).ingest()
    print(f"knowledge base: {ingest}")
    # The vectors every start needs (the router's examples, the knowledge base's sentences), embedded now
    # and saved under the home, so the first `gtm serve` reads them back like any restart.
    ClassifierRouter(settings).load()
    sentences = asyncio.run(KnowledgeAdapter(settings).warm())
    print(f"start-up vectors: {sentences} knowledge-base sentences and the router's examples saved")
    return 0
