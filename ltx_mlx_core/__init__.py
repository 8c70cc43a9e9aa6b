"""ltx-mlx's engine: LTX video models on MLX, from weights to finished clips."""

from ltx_mlx_core.gpu_commands import apply_gpu_defaults

# Before any of our modules imports MLX: its GPU backends read these once (gpu_commands.py says why).
apply_gpu_defaults()
