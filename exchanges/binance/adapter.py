"""``BinanceAdapter``: one Binance USDⓈ-M venue behind the exchange-agnostic ``ExchangeAdapter`` protocol.

It composes the connector's parts and adds no protocol logic of its own:

- a started :class:`~exchanges.binance.rest.BinanceRestClient` (session, clock offset, rate limits,
  breakers, retries) and the typed :class:`~exchanges.binance.rest_api.BinanceRestApi` on top of it, which
  serves every reference, account and trading call and resolves unknown placement outcomes;
- one :class:`~exchanges.binance.market_cache.MarketCache`, fed by every market stream this adapter creates
  and handed to the REST API, so last price, book ticker and mark price are answered from the streams while
  the market-data circuit breaker is open;
- :class:`~exchanges.binance.streams.MarketStreams` (gaps backfilled through the REST API's aggTrades) and
  :class:`~exchanges.binance.userstream.UserStream` (listenKeys from the REST API), created on demand.

Lifecycle: :meth:`BinanceAdapter.start` starts the REST client (streams are started by their owner after
subscribing). :meth:`BinanceAdapter.close` stops, in order, the user streams (their keepalives use REST),
then the market streams (their backfills use REST), then the REST client's time-sync task and session. Every
task involved is named by the component that owns it (``rest-timesync``, ``ws-market-0``, ``ws-private``,
``userstream-keepalive``...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from types import TracebackType

from core.clock import Clock
from core.events import ReconcileRequest, StreamGap, UserEvent
from core.logs import get_logger
from core.types import (
    AlgoOrder,
    AlgoOrderRequest,
    Balance,
    BookTicker,
    Candle,
    Fill,
    Income,
    IncomeType,
    Instrument,
    MarkPrice,
    Order,
    OrderRequest,
    Position,
    Trade,
)
from exchanges.adapter import AccountSnapshot, DepthSnapshot, MarketEvent
from exchanges.binance.market_cache import MarketCache
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.streams import MarketStreams
from exchanges.binance.userstream import UserStream
from exchanges.binance.venues import Venue
from exchanges.errors import VenueError

__all__ = ["BinanceAdapter"]

log = get_logger("binance.adapter")


class BinanceAdapter:
    """An :class:`~exchanges.adapter.ExchangeAdapter` for one Binance USDⓈ-M venue (see the module docstring).

    ``client`` is not started yet; :meth:`start` does it. ``api`` defaults to a :class:`BinanceRestApi` on
    ``client``; either way its cache is the one the adapter's market streams feed. The stream knobs
    (``watchdog_s``, ``user_watchdog_s``, ``keepalive_s``, ``max_streams_per_connection``) go to every
    stream created; ``seed`` seeds their jitter.
    Build one with :func:`exchanges.binance.factory.build_adapter` rather than by hand.
    """

    def __init__(
        self,
        client: BinanceRestClient,
        *,
        api: BinanceRestApi | None = None,
        watchdog_s: float = 30.0,
        user_watchdog_s: float = 120.0,
        keepalive_s: float = 1800.0,
        max_streams_per_connection: int = 200,
        seed: int = 0,
    ) -> None:
        self.client = client
        # One cache: the one the REST API serves from is the one the streams feed.
        self.cache = api.cache if api is not None and api.cache is not None else MarketCache()
        self.api = api if api is not None else BinanceRestApi(client, cache=self.cache, seed=seed)
        self.api.cache = self.cache
        self._watchdog_s = watchdog_s
        self._user_watchdog_s = user_watchdog_s
        self._keepalive_s = keepalive_s
        self._per_connection = max_streams_per_connection
        self._seed = seed
        self._market_streams: list[MarketStreams] = []
        self._user_streams: list[UserStream] = []
        self._started = False

    def __repr__(self) -> str:
        return f"BinanceAdapter(venue={self.venue.name!r}, rest_url={self.venue.rest_url!r})"

    @property
    def venue(self) -> Venue:
        return self.client.venue

    @property
    def clock(self) -> Clock:
        return self.client.clock

    @property
    def market_streams(self) -> tuple[MarketStreams, ...]:
        """Every market stream this adapter created (and will stop at :meth:`close`)."""
        return tuple(self._market_streams)

    @property
    def user_streams(self) -> tuple[UserStream, ...]:
        """Every user stream this adapter created (and will stop at :meth:`close`)."""
        return tuple(self._user_streams)

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the REST session, measure the clock offset and load the venue's rate limits."""
        await self.client.start()
        self._started = True
        log.info("connected to %s (%s)", self.venue.name, self.venue.rest_url)

    async def close(self) -> None:
        """Stop the user streams, then the market streams, then the REST client (idempotent)."""
        users, self._user_streams = self._user_streams, []
        markets, self._market_streams = self._market_streams, []
        for user in users:
            await user.stop()
        for market in markets:
            await market.stop()
        await self.client.close()
        if self._started:
            self._started = False
            log.info("disconnected from %s", self.venue.name)

    async def __aenter__(self) -> BinanceAdapter:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- reference and history ----------------------------------------------------------------------------

    async def instruments(self) -> list[Instrument]:
        """Perpetual contracts with their filters (and leverage brackets when keys are configured)."""
        return await self.api.instruments()

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        return await self.api.klines(symbol, interval, start_time=start_time, end_time=end_time, limit=limit)

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 1000,
    ) -> list[Trade]:
        return await self.api.agg_trades(
            symbol, from_id=from_id, start_time=start_time, end_time=end_time, limit=limit
        )

    async def last_price(self, symbol: str) -> Decimal:
        return await self.api.last_price(symbol)

    async def book_ticker(self, symbol: str) -> BookTicker:
        return await self.api.book_ticker(symbol)

    async def mark_price(self, symbol: str) -> MarkPrice:
        return await self.api.mark_price(symbol)

    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        return await self.api.depth(symbol, limit)

    # --- account ------------------------------------------------------------------------------------------

    async def account(self) -> AccountSnapshot:
        return await self.api.account()

    async def balances(self) -> list[Balance]:
        return await self.api.balances()

    async def positions(self, symbol: str | None = None) -> list[Position]:
        return await self.api.positions(symbol)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self.api.open_orders(symbol)

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        return await self.api.open_algo_orders(symbol)

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self.api.get_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def get_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> AlgoOrder:
        return await self.api.get_algo_order(algo_id=algo_id, client_algo_id=client_algo_id)

    async def user_trades(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        return await self.api.user_trades(
            symbol, order_id=order_id, start_time=start_time, end_time=end_time, from_id=from_id, limit=limit
        )

    async def income(
        self,
        *,
        symbol: str | None = None,
        income_type: IncomeType | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        kind = None if income_type is None else str(income_type)
        if start_time is None:
            return await self.api.income(symbol=symbol, income_type=kind, end_time=end_time, limit=limit)
        rows: list[Income] = []
        seen: set[tuple[str, int]] = set()  # tranId is unique per income type
        cursor = start_time
        while True:
            page = await self.api.income(
                symbol=symbol, income_type=kind, start_time=cursor, end_time=end_time, limit=limit
            )
            fresh = [r for r in page if (r.income_type, r.tran_id) not in seen]
            seen.update((r.income_type, r.tran_id) for r in fresh)
            rows += fresh
            if len(page) < limit:
                return rows
            # startTime is inclusive: the next page starts at the last time seen, its repeats dropped above.
            last = max(r.ts for r in page)
            if not fresh or last <= cursor:
                log.warning(
                    "income history: more than %d rows at %d; later rows at that time are not reachable",
                    limit,
                    cursor,
                )
                return rows
            cursor = last

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        return await self.api.set_leverage(symbol, leverage)

    # --- trading ------------------------------------------------------------------------------------------

    async def place_order(self, req: OrderRequest) -> Order:
        """Place ``req`` (client id required); an unknown outcome is resolved by that id, never resent."""
        return await self.api.place_order(req)

    async def place_orders(self, reqs: Sequence[OrderRequest]) -> list[Order | VenueError]:
        """Place up to 5 orders in one batch; each result is the order or the error that refused it."""
        return await self.api.place_orders(reqs)

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self.api.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_all_orders(self, symbol: str) -> None:
        await self.api.cancel_all_orders(symbol)

    async def place_algo_order(self, req: AlgoOrderRequest) -> AlgoOrder:
        """Place a conditional order (client algo id required), never twice."""
        return await self.api.place_algo_order(req)

    async def cancel_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> None:
        await self.api.cancel_algo_order(algo_id=algo_id, client_algo_id=client_algo_id)

    async def cancel_all_algo_orders(self, symbol: str) -> None:
        await self.api.cancel_all_algo_orders(symbol)

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        await self.api.countdown_cancel_all(symbol, countdown_ms)

    # --- streams ------------------------------------------------------------------------------------------

    def market_stream(
        self,
        on_event: Callable[[MarketEvent], None],
        *,
        on_gap: Callable[[StreamGap], None] | None = None,
    ) -> MarketStreams:
        """A market stream delivering to ``on_event`` (and to this adapter's cache); subscribe, then start.

        aggTrade gaps are backfilled through REST before later trades are delivered; ``on_gap`` hears of each
        gap detected. The adapter stops the stream at :meth:`close` if its owner has not.
        """
        cache = self.cache

        def deliver(event: Trade | MarkPrice | BookTicker | Candle) -> None:
            # The cache first: a read served from it must never be older than what on_event has seen.
            cache.on_event(event)
            on_event(event)

        streams = MarketStreams(
            self.venue,
            self.clock,
            on_event=deliver,
            fetch_agg_trades=self.api.agg_trades,
            on_gap=on_gap,
            watchdog_s=self._watchdog_s,
            max_streams_per_connection=self._per_connection,
            seed=self._seed + 1000 * len(self._market_streams),
        )
        self._market_streams.append(streams)
        return streams

    def user_stream(
        self,
        on_event: Callable[[UserEvent], None],
        on_reconcile: Callable[[ReconcileRequest], None],
    ) -> UserStream:
        """The account's user-data stream (listenKey kept alive and recreated); start it to connect.

        ``on_reconcile`` is called when the stream opens and whenever events may have been missed.
        """
        stream = UserStream(
            self.venue,
            self.clock,
            self.api,
            on_event=on_event,
            on_reconcile=on_reconcile,
            keepalive_s=self._keepalive_s,
            watchdog_s=self._user_watchdog_s,
            seed=self._seed + 1000 * len(self._user_streams),
        )
        self._user_streams.append(stream)
        return stream
