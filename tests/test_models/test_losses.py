"""POA's loss terms on hand-computed toy tensors."""
import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from poa_mm.datasets import mask_patch_weights
from poa_mm.models.losses import (
    DINOClsLoss,
    IBOTPatchLoss,
    KoLeoLoss,
    SameViewDistillLoss,
    sinkhorn_knopp,
)

LN3 = math.log(3)


def logits(*probs_as_log):
    # Student logits z with softmax(z / 0.1) chosen by hand.
    return torch.tensor([list(probs_as_log)]) * 0.1


def test_dino_pairs_each_global_crop_with_the_other_teacher_crop():
    loss = DINOClsLoss(student_temp=0.1)
    targets = torch.tensor([[1., 0.], [0., 1.]])  # teacher crop 1, crop 2
    z1 = logits(0, LN3)  # softmax -> (1/4, 3/4)
    z2 = logits(0, 0)  # softmax -> (1/2, 1/2)
    zl = logits(LN3, 0)  # softmax -> (3/4, 1/4)
    glob = torch.cat([z1, z2])
    # crop 1 vs teacher crop 2: ln(4/3); crop 2 vs teacher crop 1: ln 2.
    got = loss(glob, glob[:0], targets)
    assert got.item() == pytest.approx(math.log(4 / 3) + math.log(2))
    # the local crop against both teacher crops: ln(4/3) + ln 4.
    got = loss(glob, zl, targets)
    expected = math.log(4 / 3) + math.log(2) + math.log(4 / 3) + math.log(4)
    assert got.item() == pytest.approx(expected)
    assert DINOClsLoss.num_pairs(2, 8) == 18
    assert DINOClsLoss.num_pairs(2, 1) == 4


def test_dino_means_over_the_batch():
    loss = DINOClsLoss()
    targets = torch.tensor([[1., 0.], [0., 1.], [0., 1.], [1., 0.]])  # B=2
    z = torch.cat([logits(0, LN3), logits(0, 0), logits(0, 0),
                   logits(0, 0)])
    # crop1 = rows 0,1 vs teacher crop2 rows 2,3 = (0,1),(1,0):
    #   mean(ln 4/3, ln 2); crop2 = rows 2,3 vs teacher crop1: mean(ln2, ln2)
    expected = (math.log(4 / 3) + math.log(2)) / 2 + math.log(2)
    assert loss(z, z[:0], targets).item() == pytest.approx(expected)


def test_same_view_target_is_intact_softmax_at_student_temperature():
    loss = SameViewDistillLoss(temperature=0.1)
    intact = logits(LN3, 0).requires_grad_()  # target (3/4, 1/4)
    elastic = logits(0, LN3).requires_grad_()  # (1/4, 3/4)
    expected = -(0.75 * math.log(0.25) + 0.25 * math.log(0.75))
    got = loss([(intact, elastic), (intact, logits(0, 0))])
    assert got.item() == pytest.approx(expected + math.log(2))
    got.backward()
    assert intact.grad is None  # stop-gradient on the target
    assert elastic.grad is not None


def test_ibot_weights_patches_per_crop_and_averages_over_all_crops():
    loss = IBOTPatchLoss(student_temp=0.1)
    masks = torch.tensor([[True, True, False], [False, False, False],
                          [False, True, False]])
    weights = mask_patch_weights(masks)
    assert weights.tolist() == [0.5, 0.5, 1.0]
    targets = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
    student = torch.cat([logits(0, LN3), logits(0, 0), logits(0, 0)])
    # crop 0: (ln4 + ln2)/2, crop 1: nothing (still counted), crop 2: ln2.
    expected = ((math.log(4) + math.log(2)) / 2 + math.log(2)) / 3
    got = loss(student, targets, weights, n_crops=3)
    assert got.item() == pytest.approx(expected)


def test_koleo_on_points_of_a_circle():
    angles = torch.tensor([0., 60., 180.]) * math.pi / 180
    z = torch.stack([angles.cos(), angles.sin()], dim=1) * 3.  # not unit
    # nearest distances on the unit circle: 1, 1, sqrt(3)
    expected = -(0 + 0 + 0.5 * LN3) / 3
    assert KoLeoLoss()(z).item() == pytest.approx(expected, abs=1e-6)


def test_sinkhorn_rows_are_distributions_and_prototypes_balanced():
    torch.manual_seed(0)
    t = torch.randn(64, 16) * 0.5
    q = sinkhorn_knopp(t, temperature=0.04, n_iterations=3)
    assert torch.allclose(q.sum(dim=1), torch.ones(64), atol=1e-5)
    assert (q >= 0).all()
    # Iterated to convergence, every prototype gets rows / K of the mass.
    q = sinkhorn_knopp(t, temperature=0.1, n_iterations=200)
    assert torch.allclose(q.sum(dim=0), torch.full((16, ), 4.), atol=1e-3)
    assert torch.allclose(q.sum(dim=1), torch.ones(64), atol=1e-5)
    # Shift-invariant, and a large offset (exp(125) overflows fp32) is fine.
    q = sinkhorn_knopp(t, temperature=0.04)
    shifted = sinkhorn_knopp(t + 5., temperature=0.04)
    assert torch.isfinite(shifted).all()
    assert torch.allclose(q, shifted, atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _sk_worker(rank, world, port, logits, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        rows = logits.chunk(world)[rank]
        out[rank] = sinkhorn_knopp(rows, 0.05)
        patch = IBOTPatchLoss().teacher_targets(rows[:rank + 3], 0.05)
        out[world + rank] = patch
    finally:
        dist.destroy_process_group()


def test_sinkhorn_with_two_gloo_ranks_equals_one_process_on_all_rows():
    torch.manual_seed(0)
    t = torch.randn(8, 6)
    out = mp.Manager().dict()
    mp.spawn(_sk_worker, args=(2, _free_port(), t, out), nprocs=2)
    joint = torch.cat([out[0], out[1]])
    assert torch.allclose(joint, sinkhorn_knopp(t, 0.05), atol=1e-6)
    # iBOT balances over every rank's masked patches (3 + 4 rows).
    patches = torch.cat([out[2], out[3]])
    rows = torch.cat([t[:3], t[4:8]])
    assert torch.allclose(patches, sinkhorn_knopp(rows, 0.05), atol=1e-6)
