"""Chat models: `ChatOpenAI` per agent when a key is set, otherwise the offline model."""
