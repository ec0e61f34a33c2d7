"""For tests: POA's total loss written out from its formula (the official
code's weighting, poa/train/ssl_meta_arch.py), independently of
``POA.loss`` and ``POA.split_loss``: only the backbones, the heads,
Sinkhorn-Knopp and KoLeo are shared (each tested on its own)."""
import torch
import torch.nn.functional as F

STUDENT_TEMP = 0.1


def ce(target, logits):
    """Per-row ``-sum_k p_k log softmax(z / 0.1)_k``."""
    return -(target * F.log_softmax(logits.float() / STUDENT_TEMP,
                                    -1)).sum(-1)


def reference_loss(model, inputs: dict):
    g, loc = inputs['global_crops'], inputs['local_crops']
    masks = inputs['masks'].flatten(1)
    n_images, grid = g.shape[0] // 2, tuple(inputs['masks'].shape[1:])
    n_local = loc.shape[0] // n_images
    lam, temp = model.lambda_intact, model.teacher_temp
    teacher, tb = model.teacher['head'], model.teacher['backbone']
    with torch.no_grad(), tb.subnet(tb.search_space.intact):
        cls_t, patch_t = tb.forward_tokens(g, grid=grid)
        t_cls = [model.dino_loss.teacher_targets(z, temp)
                 for z in teacher(cls_t)]
        t_patch = [model.ibot_loss.teacher_targets(z, temp)
                   for z in teacher(patch_t[masks])]

    def student(spec):
        with model.backbone.subnet(spec):
            cls_g, patch_g = model.backbone.forward_tokens(g, masks.view(
                masks.shape[0], *grid), grid=grid)
            cls_l = model.backbone.forward_tokens(loc)[0]
        return (cls_g, model.head(cls_g), model.head(cls_l),
                model.head(patch_g[masks]))

    def cross_view(z_glob, z_loc, t):
        tg, zg, zl = t.chunk(2), z_glob.chunk(2), z_loc.chunk(n_local)
        # Each student global crop against the other teacher crop, each
        # local crop against both.
        return (sum(ce(tg[1 - i], zg[i]).mean() for i in range(2)) +
                sum(ce(tg[i], z).mean() for z in zl for i in range(2)))

    def mim(z, t):
        per_crop = masks.sum(1).clamp(min=1).float()
        weight = (1 / per_crop)[masks.nonzero()[:, 0]]
        return (ce(t, z) * weight).sum() / masks.shape[0]

    intact = student(model.backbone.search_space.intact)
    elastic = student(model.elastic_subnet)
    pairs, total = 2 + 2 * n_local, 0.
    for h in range(len(t_cls)):
        dino = (lam * cross_view(intact[1][h], intact[2][h], t_cls[h]) +
                (1 - lam) * cross_view(elastic[1][h], elastic[2][h],
                                       t_cls[h])) / pairs
        same_view = sum(
            ce(F.softmax(a.detach().float() / STUDENT_TEMP, -1), e).mean()
            for a, e in ((intact[1][h], elastic[1][h]),
                         (intact[2][h], elastic[2][h])))
        ibot = lam * mim(intact[3][h], t_patch[h]) + (1 - lam) * mim(
            elastic[3][h], t_patch[h])
        total = total + dino + (1 - lam) * same_view + ibot
    koleo = sum(model.koleo_loss(c) for branch in (intact, elastic)
                for c in branch[0].chunk(2)) / 2
    return total / len(t_cls) + model.koleo_weight * koleo
