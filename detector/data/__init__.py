"""The data layer: box helpers, the vocabulary, the dataset form and its readers. Imported by every stage."""

from .boxes import (box_area, box_ioa, box_iou, ilsvrc_to_xyxy, voc_to_xyxy, xywh_to_xyxy, xyxy_to_ilsvrc, xyxy_to_voc,
                    xyxy_to_xywh)
from .dataset import Dataset, DatasetError, ImageAnnotation, Problem
from .readers import FORMATS, detect_format, read_dataset, read_image_list
from .vocab import Category, category_for_name, ilsvrc_categories

__all__ = [
    "Category", "Dataset", "DatasetError", "FORMATS", "ImageAnnotation", "Problem", "box_area", "box_ioa", "box_iou",
    "category_for_name", "detect_format", "ilsvrc_categories", "ilsvrc_to_xyxy", "read_dataset", "read_image_list",
    "voc_to_xyxy", "xywh_to_xyxy", "xyxy_to_ilsvrc", "xyxy_to_voc", "xyxy_to_xywh",
]
