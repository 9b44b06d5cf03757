"""Reading a packet's custody log, checked."""

from __future__ import annotations

from ..core.unit_of_work import Transactions
from ..db.scope import Scope
from ..keys.trust import TrustedKeys
from .evidence import CustodyReport, packet_evidence


class CustodyService:
    def __init__(self, transactions: Transactions, trust: TrustedKeys) -> None:
        self.tx = transactions
        self.trust = trust

    async def log(self, scope: Scope, packet_id: str) -> CustodyReport:
        async with self.tx.read(scope, settled=True, bulk=True) as work:
            return await packet_evidence(work, packet_id, await self.trust.load(work))
