"""The web app: FastAPI owns health and review routes and mounts the Chainlit chat at `/chat`."""
