"""Network and runtime building blocks shared by every stage (``proposals/`` and ``detector/`` alike): the Inception
network (:mod:`.inception`), model files (:mod:`.checkpoint`), image transforms (:mod:`.transforms`), ONNX Runtime
sessions (:mod:`.onnx`), data parallelism under ``torchrun`` (:mod:`.distributed`) and the one training loop
(:mod:`.loop`). Imports only the data layer (:mod:`detector.data`), torch and torchvision."""
