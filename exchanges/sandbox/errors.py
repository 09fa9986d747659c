"""Binance error answers, exactly as the venue sends them: HTTP status plus ``{"code", "msg"}``.

The engine raises :class:`ExchangeError`; the server turns it into the HTTP answer. Messages follow
the bodies Binance sends (see ``shared/data/wire/rest/binance_usdm_error_bodies.json``).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["ExchangeError"]


class ExchangeError(Exception):
    """An error answer of the exchange: ``code`` and ``msg`` as Binance sends them."""

    def __init__(self, code: int, msg: str, http_status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = headers or {}

    # Constructors, one per error the sandbox emits, so the codes and texts live in one place.

    @classmethod
    def unknown(cls) -> ExchangeError:
        return cls(-1000, "An unknown error occured while processing the request.", 500)

    @classmethod
    def disconnected(cls) -> ExchangeError:
        return cls(-1001, "Internal error; unable to process your request. Please try again.", 503)

    @classmethod
    def unauthorized(cls) -> ExchangeError:
        return cls(-1002, "You are not authorized to execute this request.", 401)

    @classmethod
    def too_many_requests(cls, limit: int, interval: str = "1 MINUTE") -> ExchangeError:
        return cls(
            -1003,
            f"Too much request weight used, current limit is {limit} request weight per {interval}. "
            "Please use the websocket for live updates to avoid polling the API.",
            429,
        )

    @classmethod
    def banned(cls, until_ms: int) -> ExchangeError:
        return cls(
            -1003,
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use the websocket for live updates to avoid bans.",
            418,
        )

    @classmethod
    def too_many_orders(cls, limit: int, interval: str) -> ExchangeError:
        return cls(-1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429)

    @classmethod
    def timeout(cls) -> ExchangeError:
        return cls(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; "
            "execution status unknown.",
            408,
        )

    @classmethod
    def timestamp_outside_window(cls) -> ExchangeError:
        return cls(-1021, "Timestamp for this request is outside of the recvWindow.")

    @classmethod
    def timestamp_ahead(cls) -> ExchangeError:
        return cls(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")

    @classmethod
    def invalid_signature(cls) -> ExchangeError:
        return cls(-1022, "Signature for this request is not valid.")

    @classmethod
    def illegal_chars(cls, param: str) -> ExchangeError:
        return cls(-1100, f"Illegal characters found in parameter '{param}'.")

    @classmethod
    def mandatory_missing(cls, param: str) -> ExchangeError:
        return cls(-1102, f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")

    @classmethod
    def unknown_param(cls, param: str) -> ExchangeError:
        return cls(-1104, f"Not all sent parameters were read; read '{param}' parameter(s).")

    @classmethod
    def param_empty(cls, param: str) -> ExchangeError:
        return cls(-1105, f"Parameter '{param}' was empty.")

    @classmethod
    def param_not_required(cls, param: str) -> ExchangeError:
        return cls(-1106, f"Parameter '{param}' sent when not required.")

    @classmethod
    def precision(cls) -> ExchangeError:
        return cls(-1111, "Precision is over the maximum defined for this asset.")

    @classmethod
    def invalid_tif(cls) -> ExchangeError:
        return cls(-1115, "Invalid timeInForce.")

    @classmethod
    def invalid_order_type(cls) -> ExchangeError:
        return cls(-1116, "Invalid orderType.")

    @classmethod
    def invalid_side(cls) -> ExchangeError:
        return cls(-1117, "Invalid side.")

    @classmethod
    def invalid_symbol(cls) -> ExchangeError:
        return cls(-1121, "Invalid symbol.")

    @classmethod
    def invalid_listen_key(cls) -> ExchangeError:
        return cls(-1125, "This listenKey does not exist.")

    @classmethod
    def invalid_interval(cls) -> ExchangeError:
        return cls(-1120, "Invalid interval.")

    @classmethod
    def bad_param(cls, param: str, value: str = "") -> ExchangeError:
        shown = f" '{value}'" if value else ""
        return cls(-1130, f"Data sent for parameter '{param}'{shown} is not valid.")

    @classmethod
    def api_key_format(cls) -> ExchangeError:
        return cls(-2014, "API-key format invalid.", 401)

    @classmethod
    def rejected_api_key(cls) -> ExchangeError:
        return cls(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    @classmethod
    def cancel_rejected(cls) -> ExchangeError:
        return cls(-2011, "Unknown order sent.")

    @classmethod
    def no_such_order(cls) -> ExchangeError:
        return cls(-2013, "Order does not exist.")

    @classmethod
    def margin_insufficient(cls) -> ExchangeError:
        return cls(-2019, "Margin is insufficient.")

    @classmethod
    def would_trigger_immediately(cls) -> ExchangeError:
        return cls(-2021, "Order would immediately trigger.")

    @classmethod
    def reduce_only_rejected(cls) -> ExchangeError:
        return cls(-2022, "ReduceOnly Order is rejected.")

    @classmethod
    def price_below_min(cls) -> ExchangeError:
        return cls(-4001, "Price less than min price.")

    @classmethod
    def price_above_max(cls) -> ExchangeError:
        return cls(-4002, "Price greater than max price.")

    @classmethod
    def qty_below_min(cls) -> ExchangeError:
        return cls(-4003, "Quantity less than or equal to zero.")

    @classmethod
    def qty_below_min_qty(cls) -> ExchangeError:
        return cls(-4004, "Quantity less than min quantity.")

    @classmethod
    def qty_above_max(cls) -> ExchangeError:
        return cls(-4005, "Quantity greater than max quantity.")

    @classmethod
    def stop_price_below_zero(cls) -> ExchangeError:
        return cls(-4006, "Stop price less than zero.")

    @classmethod
    def invalid_leverage(cls) -> ExchangeError:
        return cls(-4028, "Leverage is not valid.")

    @classmethod
    def price_not_tick(cls) -> ExchangeError:
        return cls(-4014, "Price not increased by tick size.")

    @classmethod
    def qty_not_step(cls) -> ExchangeError:
        return cls(-4023, "Qty not increased by step size.")

    @classmethod
    def no_need_to_change_margin_type(cls) -> ExchangeError:
        return cls(-4046, "No need to change margin type.")

    @classmethod
    def margin_type_with_open_orders(cls) -> ExchangeError:
        return cls(-4047, "Margin type cannot be changed if there exists open orders.")

    @classmethod
    def margin_type_with_position(cls) -> ExchangeError:
        return cls(-4048, "Margin type cannot be changed if there exists position.")

    @classmethod
    def no_need_to_change_position_side(cls) -> ExchangeError:
        return cls(-4059, "No need to change position side.")

    @classmethod
    def position_side_mismatch(cls) -> ExchangeError:
        return cls(-4061, "Order's position side does not match user's setting.")

    @classmethod
    def position_mode_with_open_orders(cls) -> ExchangeError:
        return cls(-4067, "Position side cannot be changed if there exists open orders.")

    @classmethod
    def position_mode_with_position(cls) -> ExchangeError:
        return cls(-4068, "Position side cannot be changed if there exists position.")

    @classmethod
    def price_out_of_bounds(cls, side_up: bool, limit: Decimal) -> ExchangeError:
        if side_up:
            return cls(-4016, f"Limit price can't be higher than {limit}.")
        return cls(-4024, f"Limit price can't be lower than {limit}.")

    @classmethod
    def leverage_too_high_for_position(cls) -> ExchangeError:
        return cls(-2027, "Exceeded the maximum allowable position at current leverage.")

    @classmethod
    def max_open_orders(cls) -> ExchangeError:
        return cls(-2025, "Reach max open order limit.")

    @classmethod
    def conditional_on_order_endpoint(cls) -> ExchangeError:
        return cls(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        )

    @classmethod
    def min_notional(cls, notional: Decimal) -> ExchangeError:
        return cls(
            -4164, f"Order's notional must be no smaller than {notional} (unless you choose reduce only)."
        )

    @classmethod
    def post_only_would_take(cls) -> ExchangeError:
        return cls(
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected. "
            "The order will not be recorded in the order history",
        )

    @classmethod
    def fok_not_filled(cls) -> ExchangeError:
        return cls(
            -5021,
            "Due to the order could not be filled immediately, the FOK order has been rejected. "
            "The order will not be recorded in the order history",
        )

    @classmethod
    def duplicate_client_id(cls) -> ExchangeError:
        return cls(-4015, "Client order id is not valid.")

    @classmethod
    def client_id_duplicate(cls) -> ExchangeError:
        return cls(-4116, "ClientOrderId is duplicated.")

    @classmethod
    def algo_not_found(cls) -> ExchangeError:
        return cls(-2011, "Unknown order sent.")

    @classmethod
    def max_algo_orders(cls) -> ExchangeError:
        return cls(-4045, "Reach max stop order limit.")

    @classmethod
    def batch_too_many(cls) -> ExchangeError:
        return cls(-1130, "Data sent for parameter 'batchOrders' is not valid.")

    @classmethod
    def countdown_invalid(cls) -> ExchangeError:
        return cls(-1130, "Data sent for parameter 'countdownTime' is not valid.")

    @classmethod
    def payload_too_large(cls) -> ExchangeError:
        return cls(-1101, "Too many parameters sent for this endpoint.", 413)

    # Added by the exchange core (engine/): additional Binance errors it raises.

    @classmethod
    def unsupported_operation(cls) -> ExchangeError:
        return cls(-1020, "This operation is not supported.")

    @classmethod
    def invalid_activation_price(cls) -> ExchangeError:
        return cls(-4135, "Invalid activation price.")

    @classmethod
    def quantity_with_close_position(cls) -> ExchangeError:
        return cls(-4137, "Quantity must be zero with closePosition equals true.")

    @classmethod
    def stop_price_multiplier(cls, side_up: bool, limit: Decimal) -> ExchangeError:
        if side_up:
            return cls(
                -4183,
                f"Price is higher than stop price multiplier cap. Limit price can't be higher than {limit}.",
            )
        return cls(
            -4184,
            f"Price is lower than stop price multiplier floor. Limit price can't be lower than {limit}.",
        )

    @classmethod
    def good_till_date_invalid(cls) -> ExchangeError:
        return cls(
            -5040,
            "The goodTillDate timestamp must be greater than the current time plus 600 seconds and "
            "smaller than 253402300799000 (UTC 9999-12-31 23:59:59).",
        )

    @classmethod
    def bbo_no_depth(cls) -> ExchangeError:
        return cls(-5041, "No depth matches this BBO order.")

    # Added by the REST server (additive).

    @classmethod
    def either_param_missing(cls, first: str, second: str) -> ExchangeError:
        return cls(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")

    @classmethod
    def bad_param_combination(cls) -> ExchangeError:
        return cls(-1128, "Combination of optional parameters invalid.")

    @classmethod
    def invalid_path(cls, method: str, path: str) -> ExchangeError:
        return cls(-5000, f"Path {path}, Method {method} is invalid", 404)

    @classmethod
    def window_too_long(cls, hours: int) -> ExchangeError:
        return cls(-1127, f"More than {hours} hours between startTime and endTime.")
