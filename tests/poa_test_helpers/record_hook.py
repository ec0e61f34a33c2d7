"""A hook for tests: records what each rank did, one JSON file per rank."""
import json
import os
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RankRecorderHook(Hook):
    """Writes ``{out_dir}/rank{r}.json``: per iteration, the sampled
    sub-network (an ElasticImageClassifier: its sandwich), the peak lr
    and every loss term."""
    priority = 'LOWEST'

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        record = dict(
            iter=runner.iter,
            subnet=str(getattr(model, 'elastic_subnet', None)),
            sandwich=getattr(model, 'last_sandwich', None),
            peak_lr=runner.message_hub.get_info('peak_lr'))
        record.update({k: float(v) for k, v in (outputs or {}).items()})
        self.records.append(record)

    def after_run(self, runner):
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'rank{get_rank()}.json'), 'w') as f:
            json.dump(self.records, f)
