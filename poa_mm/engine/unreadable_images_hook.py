"""How many training images were skipped as unreadable: in the log and in
every checkpoint."""
import os

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ..datasets.loading import UNREADABLE_LOG_ENV, unreadable_listed


@HOOKS.register_module()
class UnreadableImagesHook(Hook):
    """Report the files ``LoadCheckedImage(skip_corrupt=True)`` skipped
    (the skip list that :data:`UNREADABLE_LOG_ENV` names, written by every
    loader process): one log line at the end of each epoch and with each
    checkpoint when the count grew, and the count in every checkpoint
    (``checkpoint['poa_mm']['unreadable_images']``). ``tools/train.py``
    adds it to every run, with the list in ``WORK_DIR/unreadable_images.txt``.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self.reported = 0

    def _report(self, runner, when: str) -> int:
        count = unreadable_listed()
        if count > self.reported:
            self.reported = count
            print_log(f'{count} unreadable training image(s) skipped so far '
                      f'({when}; listed in {os.environ[UNREADABLE_LOG_ENV]})',
                      logger='current', level=30)
        return count

    def after_train_epoch(self, runner) -> None:
        self._report(runner, f'epoch {runner.epoch + 1}')

    def after_train(self, runner) -> None:
        self._report(runner, 'end of training')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        count = self._report(runner, f'iteration {runner.iter + 1}')
        checkpoint.setdefault('poa_mm', {})['unreadable_images'] = count


__all__ = ['UnreadableImagesHook']
