"""Models: the built-in DeepSeek-V2-architecture default model and model resolution."""
