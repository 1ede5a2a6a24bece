"""GTM Copilot application: settings, runtime, data, analytics, knowledge base, CLI and web."""
