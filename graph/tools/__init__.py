"""Agent tools: real computations over the business database, the analytics and the knowledge base."""
