"""Evaluation of many sub-networks from one pass of shared work: k-NN and
the linear probe, on the device and in the precision asked for."""
from .knn import (build_folder_loader, evaluate_subnets, extract_features,
                  weighted_knn)
from .linear_probe import linear_probe

__all__ = [
    'build_folder_loader', 'evaluate_subnets', 'extract_features',
    'weighted_knn', 'linear_probe'
]
