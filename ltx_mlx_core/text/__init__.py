"""Text encoders' glue: Gemma 3/4 on mlx-lm's models, their tokenizer, and the LTX-2 prompt path."""
