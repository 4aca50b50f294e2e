"""qmsflow: configurable workflow platform for medical-device quality processes.

The layers live at the top of the repository (``engine/``, ``forms/``, ``web/``, ``schema/``)
and are installed as ``qmsflow.engine``, ``qmsflow.forms``, ``qmsflow.web`` and ``qmsflow.schema``.
"""

__version__ = "0.1.0"
