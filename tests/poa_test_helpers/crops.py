"""For tests: a seeded POA batch of random uint8 crops."""
import torch


def random_crops(n_images: int = 4, n_local: int = 2, seed: int = 0,
                 global_size: int = 28, local_size: int = 12) -> dict:
    """Two global and ``n_local`` local crops of ``n_images`` images each,
    as the data preprocessor takes them."""
    g = torch.Generator().manual_seed(seed)
    sizes = [global_size] * 2 + [local_size] * n_local
    views = [torch.randint(0, 256, (n_images, 3, size, size), generator=g,
                           dtype=torch.uint8) for size in sizes]
    return dict(inputs=views, data_samples=None)
