"""Several processes (several Macs), one generation, over MLX's own distributed layer.

Started by `mlx.launch` (ring over TCP/Thunderbolt, JACCL over RDMA, NCCL on CUDA), every process
runs the same pipeline: text encoding, the sampler's arithmetic and the VAE decode run identically
on every rank, and only the transformer is split. Tensor parallel (tensor_parallel.py) deals
each attention's heads and each feed-forward's hidden units to the ranks, so each holds about
1/N of the transformer's weights; sequence parallel (sequence_parallel.py) deals the video tokens
and all-gathers keys and values so attention still sees the whole clip. plan.py picks one per
request; components.py hands the pipeline the split transformer; cli.py makes `ltx-mlx generate`
work under `mlx.launch` with rank 0 alone printing and writing.
"""
