"""advrec: adversarial training and robustness evaluation for recommender systems.

Quick start::

    import advrec
    data = advrec.datasets.synthetic(seed=0)
    train, test = advrec.split.leave_one_out(data, by="time")
    bpr = advrec.BPRMF(factors=64, epochs=50).fit(train)
    amf = advrec.AMF(factors=64, eps=0.5, reg_adv=1.0, epochs=50).fit(train, init=bpr)
    advrec.robustness({"BPR": bpr, "AMF": amf}, train, test, eps=(0.5, 1.0))
"""

from ._engine import core as _core_engine  # noqa: F401  (the engine in use; tests and benchmarks read it)
from .interactions import Interactions
from . import datasets, split
from .models import EpochLoop, NotFittedError, Recommender, load
from .models.mf import AMF, BPRMF
from .models.factor import FactorModel
from .models.pop import ItemPop
from .models.sasrec import ASASRec, SASRec
from .models.vbpr import AMR, DUIF, ContentMF, VBPR
from . import attacks, features, stats
from .evaluation import EvaluationResult, Sampled, evaluate
from .robustness import robustness
from . import experiments, plot  # light: matplotlib, Ray and PyYAML are imported only when used

__version__ = "0.1.0"

__all__ = [
    "Interactions", "datasets", "split",
    "Recommender", "EpochLoop", "NotFittedError", "load",
    "ItemPop", "FactorModel", "BPRMF", "AMF", "VBPR", "AMR", "ContentMF", "DUIF", "SASRec", "ASASRec",
    "evaluate", "Sampled", "EvaluationResult", "stats",
    "attacks", "robustness", "features", "experiments", "plot",
]
