"""GoogLeNet (ILSVRC 2014) detection system: data layer, region classifiers and the detection pipeline."""

__version__ = "0.1.0"
