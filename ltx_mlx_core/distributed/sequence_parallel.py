"""Sequence parallelism: the video tokens dealt out to the group, attention over the whole clip.

Each rank holds the whole transformer and runs it on a contiguous run of the video tokens
(padded at the end of the sequence so every rank holds as many). Everything per token is local;
video self-attention (and LTX-2's video-to-audio attention, whose keys are video tokens) all-gather
keys and values after their norms and rotations, and drop the padding, so each rank's queries see
exactly the keys a single process would. The velocities are all-gathered at the end, so every rank
continues the sampler with the whole latent. Audio tokens (LTX-2) are few and stay whole on every rank.

Per block that is an all-gather of K and V ([B, T, D] each, every rank receiving (N-1)/N of them);
the weights are not split, so this pays when activations, not weights, are the problem.
"""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.attention import AttentionShard, SkipLayerStrategy
from ltx_mlx_core.models.ltx2.perturbations import Perturbations
from ltx_mlx_core.models.ltx2.transformer import AfterBlock as LTX2AfterBlock
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.models.ltxv.transformer import AfterBlock, LTXVideoTransformer


class TokenSplit:
    """Rank r holds tokens [r * chunk, (r + 1) * chunk) of a sequence padded to size * chunk."""

    def __init__(self, tokens: int, group: mx.distributed.Group):
        self.tokens = tokens
        self.group = group
        self.chunk = -(-tokens // group.size())
        self.start = group.rank() * self.chunk

    def local(self, x: mx.array, axis: int) -> mx.array:
        """This rank's tokens of x along `axis` (the whole sequence's length), padded by repeating the last."""
        padded = self.chunk * self.group.size()
        if padded > self.tokens:
            edge = mx.take(x, mx.array([self.tokens - 1] * (padded - self.tokens)), axis=axis)
            x = mx.concatenate([x, edge], axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = slice(self.start, self.start + self.chunk)
        return x[tuple(index)]

    def gather(self, x: mx.array) -> mx.array:
        """[B, chunk, ...] from every rank -> the whole sequence [B, tokens, ...] (padding dropped)."""
        gathered = mx.distributed.all_gather(mx.contiguous(mx.swapaxes(x, 0, 1)), group=self.group)
        return mx.swapaxes(gathered[: self.tokens], 0, 1)


def _per_token(x: mx.array | None, split: TokenSplit, axis: int) -> mx.array | None:
    """Cut an input along its token axis when it has one (a [B, 1] timestep broadcasts and stays)."""
    if x is None or x.ndim <= axis or x.shape[axis] != split.tokens:
        return x
    return split.local(x, axis)


class SequenceParallelLTXV(nn.Module):
    """An LTX-Video 0.9.x transformer run on this rank's share of the tokens (the same call signature)."""

    def __init__(self, transformer: LTXVideoTransformer, group: mx.distributed.Group):
        super().__init__()
        self.transformer = transformer
        self.group = group

    @property
    def config(self):
        return self.transformer.config

    @property
    def dtype(self) -> mx.Dtype:
        return self.transformer.dtype

    def create_skip_layer_mask(self, *args, **kwargs) -> mx.array | None:
        return self.transformer.create_skip_layer_mask(*args, **kwargs)

    def __call__(
        self,
        latents: mx.array,
        indices_grid: mx.array,
        text_embeds: mx.array,
        text_mask: mx.array | None,
        timestep: mx.array,
        skip_layer_mask: mx.array | None = None,
        skip_layer_strategy: SkipLayerStrategy | None = None,
        after_block: AfterBlock | None = None,
    ) -> mx.array:
        split = TokenSplit(latents.shape[1], self.group)
        for block in self.transformer.transformer_blocks:
            block.attn1.shard = AttentionShard(gather_tokens=split.gather)
        local = self.transformer(
            split.local(latents, 1), split.local(indices_grid, 2), text_embeds, text_mask,
            _per_token(timestep, split, 1), skip_layer_mask, skip_layer_strategy, after_block,
        )  # fmt: skip
        return split.gather(local)


class SequenceParallelLTX2(nn.Module):
    """An LTX-2 transformer whose video tokens are dealt to the ranks (audio stays whole); same call signature."""

    def __init__(self, transformer: LTX2Transformer, group: mx.distributed.Group):
        super().__init__()
        self.transformer = transformer
        self.group = group

    @property
    def config(self):
        return self.transformer.config

    def __call__(
        self,
        video: ModalityInput | None,
        audio: ModalityInput | None = None,
        perturbations: Perturbations | None = None,
        after_block: LTX2AfterBlock | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        if video is None:
            return self.transformer(video, audio, perturbations, after_block)
        split = TokenSplit(video.latent.shape[1], self.group)
        for block in self.transformer.transformer_blocks:
            block.attn1.shard = AttentionShard(gather_tokens=split.gather)
            if "video_to_audio_attn" in block:
                block.video_to_audio_attn.shard = AttentionShard(gather_tokens=split.gather)
        local_video = replace(
            video,
            latent=split.local(video.latent, 1),
            timesteps=_per_token(video.timesteps, split, 1),
            positions=split.local(video.positions, 2),
            attention_mask=_per_token(video.attention_mask, split, 1),
            keyframe_mask=_per_token(video.keyframe_mask, split, 1),
        )
        video_out, audio_out = self.transformer(local_video, audio, perturbations, after_block)
        return split.gather(video_out), audio_out
