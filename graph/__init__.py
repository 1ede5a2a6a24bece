"""The GTM Copilot LangGraph: state, nodes, tools, prompts, routing and models."""
