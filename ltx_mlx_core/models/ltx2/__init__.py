"""The LTX-2 family (LTX-2, 2.3, 2.5): audio-video transformer, text path, VAEs, audio and vocoders."""
