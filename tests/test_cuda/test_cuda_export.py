"""Every elastic family's exported sub-networks compute on CUDA what the
elastic model computes there (fp32 without TF32, max abs diff 1e-5)."""
import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_test_helpers.elastic import (assert_export_exact, elastic_families,
                                      randomise)

pytestmark = pytest.mark.cuda
FAMILIES = elastic_families()


@pytest.mark.parametrize('name, cls', FAMILIES, ids=[n for n, _ in FAMILIES])
def test_exports_equal_the_elastic_model_on_cuda(name, cls, exact_cuda):
    model = MODELS.build(dict(type=cls.__name__, **cls.small_supernet))
    randomise(model)
    model = model.eval().to(exact_cuda)
    size = getattr(model, 'img_size', 32)
    x = torch.randn(2, 3, size, size,
                    generator=torch.Generator().manual_seed(1)).to(exact_cuda)
    defaults = dict(out_indices=model.out_indices,
                    out_type=getattr(model, 'out_type', None))
    candidates = model.search_space.candidates()
    for spec in (candidates[0], candidates[len(candidates) // 2],
                 candidates[-1]):
        assert_export_exact(model, spec, x)
        assert_export_exact(model, spec, x, **model.dense_export_kwargs(spec))
        for key, value in defaults.items():
            if value is not None:
                setattr(model, key, value)
