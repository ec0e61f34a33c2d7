from .elastic_image_classifier import ElasticImageClassifier, distill_loss

__all__ = ['ElasticImageClassifier', 'distill_loss']
