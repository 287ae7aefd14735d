"""The PyTorch network behind the entity-embedding regressor (imports torch: load lazily).

One embedding table per categorical input, concatenated with the continuous
inputs, then dense ReLU layers and one linear output — the architecture of
Guo & Berkhahn (2016), the 3rd-place Rossmann solution.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["BatchLoader", "EmbeddingMLP"]


class EmbeddingMLP(nn.Module):
    """Entity embeddings + multilayer perceptron, one output.

    Args:
        cardinalities: number of codes of each categorical input (code 0 = unseen).
        embedding_dims: embedding width of each categorical input, same order.
        n_continuous: number of continuous inputs (already scaled).
        hidden_layer_sizes: widths of the dense ReLU layers.
        dropout: dropout after each dense layer.
        embedding_dropout: dropout on the concatenated embeddings.
    """

    def __init__(
        self,
        cardinalities: Sequence[int] = (),
        embedding_dims: Sequence[int] = (),
        n_continuous: int = 0,
        hidden_layer_sizes: Sequence[int] = (256, 128),
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(n), int(d)) for n, d in zip(cardinalities, embedding_dims, strict=True)
        )
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        layers: list[nn.Module] = []
        width = sum(int(d) for d in embedding_dims) + int(n_continuous)
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        parts = [emb(cat[:, i]) for i, emb in enumerate(self.embeddings)]
        if parts:
            parts = [self.embedding_dropout(torch.cat(parts, dim=1))]
        if cont.shape[1]:
            parts.append(cont)
        return self.mlp(torch.cat(parts, dim=1))


class BatchLoader:
    """skorch iterator that slices whole batches out of the dataset, no per-row collation.

    torch's ``DataLoader`` fetches rows one by one and stacks them, which costs more
    than the forward pass of a small tabular net; indexing the arrays once per batch
    does not. The batch order follows torch's global seed.
    """

    def __init__(self, dataset: Any, batch_size: int = 128, shuffle: bool = False, **_: Any):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = torch.randperm(n).numpy() if self.shuffle else torch.arange(n).numpy()
        for start in range(0, n, self.batch_size):
            yield self.dataset[order[start : start + self.batch_size]]
