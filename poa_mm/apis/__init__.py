from .knn import (
                  build_folder_loader,
                  evaluate_subnets,
                  extract_features,
                  weighted_knn,
)

__all__ = [
    'build_folder_loader', 'evaluate_subnets', 'extract_features',
    'weighted_knn'
]
