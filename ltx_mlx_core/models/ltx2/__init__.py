"""The LTX-2 family (LTX-2, 2.3, 2.5): audio-video transformer, text feature extractors and connectors."""
