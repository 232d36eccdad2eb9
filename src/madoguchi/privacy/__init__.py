"""匿名加工情報 / 仮名加工情報: the anonymization engine (`engine/`, pure) and, later, the proposal → provision
workflow (法 第109–121条). This package imports no Django at import time; `apps.py` is the app shell."""
