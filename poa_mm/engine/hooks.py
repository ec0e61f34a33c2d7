"""Hooks that drive POA's training: sub-network sampling and schedules."""
from typing import Optional

import numpy as np
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ..utils import SettingError, check_keys, check_number
from .model_wrapper import unwrap_model
from .param_groups import LAST_LAYER, LR_MULT, WD_MULT, check_group_tags
from .run_metadata import run_metadata
from .schedules import cosine_schedule, scaled_lr
from .subnet_sampler import SubnetSampler


@HOOKS.register_module()
class ElasticSamplingHook(Hook):
    """Sample the elastic student's sub-network before every iteration.

    Draws from the backbone's weighted multiset (intact network excluded)
    without replacement, reshuffling after each pass. By default each rank
    has its own sampler seeded ``seed + rank`` (different sub-networks on
    different ranks, as the paper); ``same_for_all_ranks=True`` seeds every
    rank alike. The sampled sub-network is logged.

    Checkpoints record the seed and the number of draws; on resume every
    rank rebuilds its sampler and replays that many draws, so the sequence
    continues exactly (only rank 0 writes checkpoints, so per-rank states
    could not be gathered at save time).

    Args:
        seed (int, optional): Defaults to None: the runner's seed.
        same_for_all_ranks (bool): Defaults to False.
    """
    priority = 'NORMAL'

    def __init__(self, seed: Optional[int] = None,
                 same_for_all_ranks: bool = False):
        self.seed = seed
        self.same_for_all_ranks = same_for_all_ranks
        self.sampler: Optional[SubnetSampler] = None
        self.draws = 0
        self._replay = 0

    def _base_seed(self, runner) -> int:
        if self.seed is not None:
            return self.seed
        # With randomness.diff_rank_seed the runner's seed already holds
        # the rank; the sampler adds it itself.
        randomness = (getattr(runner, 'cfg', None) or {}).get('randomness',
                                                              {})
        rank_offset = get_rank() if randomness.get('diff_rank_seed') else 0
        return (runner.seed or 0) - rank_offset

    def _build(self, runner) -> SubnetSampler:
        if self.sampler is None:
            seed = self._base_seed(runner)
            if not self.same_for_all_ranks:
                seed += get_rank()
            self.sampler = SubnetSampler(
                unwrap_model(runner.model).backbone.search_space.elastic_multiset,
                seed)
            for _ in range(self._replay):
                next(self.sampler)
            self.draws, self._replay = self._replay, 0
        return self.sampler

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        spec = next(self._build(runner))
        self.draws += 1
        unwrap_model(runner.model).elastic_subnet = spec
        runner.message_hub.update_info('elastic_subnet', str(spec))
        # Logged as numbers so that the log processor shows them.
        runner.message_hub.update_scalar('train/subnet_width', spec.width)
        runner.message_hub.update_scalar('train/subnet_depth',
                                         sum(spec.depths))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['elastic_sampler'] = dict(
            seed=self._base_seed(runner),
            same_for_all_ranks=self.same_for_all_ranks,
            world_size=get_world_size(),
            draws=self.draws)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('elastic_sampler')
        if saved is None:
            return
        if saved['world_size'] != get_world_size() or \
                saved['seed'] != self._base_seed(runner):
            print_log(
                'ElasticSamplingHook: the checkpoint was written with another '
                'world size or seed; sub-network sampling restarts.',
                logger='current')
            return
        self.sampler, self._replay = None, int(saved['draws'])


@HOOKS.register_module()
class SupernetMetadataHook(Hook):
    """Store :func:`~.run_metadata.run_metadata` in every checkpoint
    (``checkpoint['poa_mm']``), where ``POAScheduleHook`` does not: what
    tools/extract_subnet.py rebuilds an ``ElasticImageClassifier`` from."""

    priority = 'LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = run_metadata(getattr(runner, 'cfg', None))
        if meta is not None:
            checkpoint['poa_mm'] = meta


# The official code's peak lr: 0.004 at a global batch of 1024, scaled by
# the square root of the real global batch over it.
PAPER_LR_SCALING = dict(base_lr=0.004, ref_batch=1024, rule='sqrt')


@HOOKS.register_module()
class POAScheduleHook(Hook):
    """Every scalar schedule of POA, as a function of the iteration.

    Before each iteration it sets, for every parameter group, ``lr = lr(t) *
    lr_mult`` (0 for the heads' last layer while it is frozen) and
    ``weight_decay = wd(t) * wd_mult``; the teacher temperature and whether
    iBOT is active. After the optimizer step it updates the EMA teacher with
    momentum ``m(t)``, unless the optimizer wrapper skipped the step (a
    non-finite loss). All values are logged. Checkpoints get the backbone
    config as plain data (``checkpoint['poa_mm']``, read by the tools
    instead of the stored config text).

    The peak lr is either given (``lr``) or computed at start-up from the
    real global batch (``world size x batch per GPU``) by ``lr_scaling``,
    by default the official rule ``dict(base_lr=0.004, ref_batch=1024,
    rule='sqrt')`` (:data:`PAPER_LR_SCALING`); an explicit ``lr`` wins. It
    is logged.

    The phase lengths are given in iterations (``*_iters``) or in epochs
    (``*_epochs``, floats allowed), converted at start-up with the real
    iterations per epoch: the epoch-based loop's length, else the training
    set over the global batch. So a recipe in epochs keeps its shape when
    the batch or the number of GPUs changes.

    Args:
        max_iters (int, optional): The iterations the schedules span.
            Defaults to None: the train loop's ``max_iters``.
        lr (float, optional): Peak learning rate. Defaults to None.
        lr_scaling (dict, optional): ``base_lr``, ``ref_batch`` (1024) and
            ``rule`` ('sqrt') of :func:`scaled_lr`. Defaults to None: the
            paper's rule unless ``lr`` is given.
        lr_min (float): Defaults to 2e-5.
        warmup_iters (int): lr warmup. Defaults to 0.
        weight_decay (tuple): Start and end. Defaults to (0.04, 0.4).
        momentum (tuple): Teacher EMA start and end.
            Defaults to (0.992, 0.9999).
        teacher_temp (tuple): Start and end. Defaults to (0.04, 0.07).
        teacher_temp_warmup_iters (int): Defaults to 0.
        freeze_last_layer_iters (int): Defaults to 0.
        ibot_start_iter (int): Defaults to 0.
        iter_num_scale (float): POA's cosine truncation. Defaults to 1.
        warmup_epochs, teacher_temp_warmup_epochs, freeze_last_layer_epochs,
        ibot_start_epoch (float, optional): The four phase lengths in
            epochs, instead of their ``*_iters`` / ``*_iter`` form.
            Defaults to None.
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 max_iters: Optional[int] = None,
                 lr: Optional[float] = None,
                 lr_scaling: Optional[dict] = None,
                 lr_min: float = 2e-5,
                 warmup_iters: int = 0,
                 weight_decay=(0.04, 0.4),
                 momentum=(0.992, 0.9999),
                 teacher_temp=(0.04, 0.07),
                 teacher_temp_warmup_iters: int = 0,
                 freeze_last_layer_iters: int = 0,
                 ibot_start_iter: int = 0,
                 iter_num_scale: float = 1.,
                 warmup_epochs: Optional[float] = None,
                 teacher_temp_warmup_epochs: Optional[float] = None,
                 freeze_last_layer_epochs: Optional[float] = None,
                 ibot_start_epoch: Optional[float] = None):
        if lr is None and lr_scaling is None:
            lr_scaling = dict(PAPER_LR_SCALING)
        check_keys('POAScheduleHook lr_scaling', lr_scaling or {},
                   ('base_lr', 'ref_batch', 'rule'))
        for name, value in (('lr', lr), ('lr_scaling.base_lr',
                                         (lr_scaling or {}).get('base_lr')),
                            ('lr_scaling.ref_batch',
                             (lr_scaling or {}).get('ref_batch'))):
            if value is not None:
                check_number(f'POAScheduleHook {name}', value, 0.,
                             low_open=True)
        self.peak_lr = lr
        self.lr_scaling = dict(lr_scaling or {})
        self.settings = dict(
            lr_min=lr_min, warmup_iters=warmup_iters,
            weight_decay=tuple(weight_decay), momentum=tuple(momentum),
            teacher_temp=tuple(teacher_temp),
            teacher_temp_warmup_iters=teacher_temp_warmup_iters,
            iter_num_scale=iter_num_scale)
        self.freeze_last_layer_iters = freeze_last_layer_iters
        self.ibot_start_iter = ibot_start_iter
        self.phase_epochs = {}
        for name, epochs, iters in (
                ('warmup_iters', warmup_epochs, warmup_iters),
                ('teacher_temp_warmup_iters', teacher_temp_warmup_epochs,
                 teacher_temp_warmup_iters),
                ('freeze_last_layer_iters', freeze_last_layer_epochs,
                 freeze_last_layer_iters),
                ('ibot_start_iter', ibot_start_epoch, ibot_start_iter)):
            if epochs is None:
                continue
            if iters:
                raise SettingError(
                    f'POAScheduleHook: give {name} or its epochs form, '
                    'not both')
            self.phase_epochs[name] = check_number(
                f'POAScheduleHook {name} in epochs', epochs, 0.)
        self.max_iters = max_iters
        if max_iters is not None and lr is not None:
            self.build(max_iters, lr)

    def build(self, max_iters: int, peak_lr: float) -> None:
        """Precompute every schedule for ``max_iters`` iterations."""
        s = self.settings
        scale = s['iter_num_scale']
        self.max_iters, self.peak_lr = max_iters, peak_lr
        self.lr = cosine_schedule(peak_lr, s['lr_min'], max_iters,
                                  s['warmup_iters'], iter_num_scale=scale)
        self.wd = cosine_schedule(*s['weight_decay'], max_iters,
                                  iter_num_scale=scale)
        self.momentum = cosine_schedule(*s['momentum'], max_iters,
                                        iter_num_scale=scale)
        start, end = s['teacher_temp']
        warm = min(s['teacher_temp_warmup_iters'], max_iters)
        self.teacher_temp = np.concatenate(
            (np.linspace(start, end, warm), np.full(max_iters - warm, end)))

    def before_train(self, runner) -> None:
        check_group_tags(runner.optim_wrapper.optimizer.param_groups,
                         'POAScheduleHook')
        loop_iters = runner.max_iters
        if self.max_iters is not None and self.max_iters != loop_iters:
            raise ValueError(
                f'POAScheduleHook max_iters={self.max_iters} but the train '
                f'loop runs {loop_iters}: leave the hook\'s max_iters unset '
                'so that it follows train_cfg.max_iters')
        how = 'given'
        batch = runner.train_dataloader.batch_size * get_world_size()
        if self.peak_lr is not None:
            peak = self.peak_lr
        else:
            if 'base_lr' not in self.lr_scaling:
                raise ValueError('POAScheduleHook lr_scaling needs base_lr')
            cfg = dict(ref_batch=1024, rule='sqrt')
            cfg.update(self.lr_scaling)
            peak = scaled_lr(cfg['base_lr'], batch, cfg['ref_batch'],
                             cfg['rule'])
            how = (f'{cfg["rule"]} rule: {cfg["base_lr"]:g} x '
                   f'({get_world_size()} x '
                   f'{runner.train_dataloader.batch_size} / '
                   f'{cfg["ref_batch"]})')
        per_epoch = self.iters_per_epoch(runner)
        if per_epoch < 1:
            print_log(f'POAScheduleHook: the global batch of {batch} images '
                      'is larger than the training set '
                      f'({len(runner.train_dataloader.dataset)} images): '
                      'every batch repeats images', logger='current',
                      level=30)
        self.phases_in_iters(per_epoch)
        self.build(loop_iters, peak)
        runner.message_hub.update_info('peak_lr', peak)
        print_log(f'POAScheduleHook: peak lr {peak:.6g} ({how}), '
                  f'{loop_iters} iterations', logger='current')

    @staticmethod
    def iters_per_epoch(runner) -> float:
        """The epoch-based loop's iterations per epoch, else the training
        set's images over the global batch."""
        loader = runner.train_dataloader
        if hasattr(runner.train_loop, 'max_epochs'):
            return float(len(loader))
        return len(loader.dataset) / (loader.batch_size * get_world_size())

    def phases_in_iters(self, iters_per_epoch: float) -> None:
        """Convert the phases given in epochs to iterations (logged)."""
        for name, epochs in self.phase_epochs.items():
            iters = int(round(epochs * iters_per_epoch))
            if name == 'warmup_iters' or name == 'teacher_temp_warmup_iters':
                self.settings[name] = iters
            else:
                setattr(self, name, iters)
            print_log(f'POAScheduleHook: {name} = {iters} ({epochs:g} '
                      f'epochs of {iters_per_epoch:g} iterations)',
                      logger='current')

    def _at(self, schedule: np.ndarray, it: int) -> float:
        return float(schedule[min(it, len(schedule) - 1)])

    def values(self, it: int) -> dict:
        return dict(
            lr=self._at(self.lr, it),
            weight_decay=self._at(self.wd, it),
            momentum=self._at(self.momentum, it),
            teacher_temp=self._at(self.teacher_temp, it),
            last_layer_frozen=it < self.freeze_last_layer_iters,
            ibot_active=it >= self.ibot_start_iter)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        v = self.values(runner.iter)
        for group in runner.optim_wrapper.optimizer.param_groups:
            frozen = v['last_layer_frozen'] and group[LAST_LAYER]
            group['lr'] = 0. if frozen else v['lr'] * group[LR_MULT]
            group['weight_decay'] = v['weight_decay'] * group[WD_MULT]
        model = unwrap_model(runner.model)
        model.set_schedule(v['teacher_temp'], v['ibot_active'])
        hub = runner.message_hub
        # RuntimeInfoHook logged the lr before it was set for this step.
        for name, lr in runner.optim_wrapper.get_lr().items():
            hub.update_scalar(f'train/{name}', lr[0])
        hub.update_scalar('train/base_lr', v['lr'])
        hub.update_scalar('train/weight_decay', v['weight_decay'])
        hub.update_scalar('train/teacher_temp', v['teacher_temp'])
        hub.update_scalar('train/momentum', v['momentum'])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = run_metadata(getattr(runner, 'cfg', None))
        if meta is not None:
            checkpoint['poa_mm'] = meta

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None):
        model = unwrap_model(runner.model)
        if getattr(runner.optim_wrapper, 'step_skipped', False):
            # No optimizer step, so no EMA update either (official).
            model.skip_teacher_update()
            return
        model.update_teacher(
            self.values(runner.iter)['momentum'])
