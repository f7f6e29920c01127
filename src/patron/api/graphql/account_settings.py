"""``updateAccountSettings`` and ``Account.conversionRates``: the settings amounts depend on."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.wallets import CreditType
from patron.orders import account_settings as service


@strawberry.type(description="The rate convertCredit uses from one credit type to the other.")
class ConversionRate:
    from_: CreditType = strawberry.field(name="from")
    to: CreditType
    rate: Decimal = strawberry.field(description="Units of `to` given for one unit of `from`.")


@strawberry.input
class ConversionRateInput:
    from_: CreditType = strawberry.field(name="from")
    to: CreditType
    rate: Decimal | None = strawberry.field(
        description="Above 0, at most 12 decimals; null removes the rate (clients then give one)."
    )


@strawberry.input
class AccountSettingsInput:
    points_precision: int | None = strawberry.field(
        default=None,
        description="Decimal places of LOCAL points, 0 to 6. It can change only while the "
        "account keeps no amount in points (no LOCAL entry, no promotion or stamp program in "
        "points): stored amounts are integers of the old precision's smallest unit.",
    )
    conversion_rates: list[ConversionRateInput] | None = strawberry.field(
        default=None, description="Rates to set or remove; the others stay as they are."
    )


@strawberry.type
class AccountSettingsResponse:
    success: bool
    points_precision: int | None = None
    conversion_rates: list[ConversionRate] | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _rates(rates: dict[str, Decimal]) -> list[ConversionRate]:
    listed = []
    for key, rate in rates.items():
        source, _, target = key.partition("_TO_")
        listed.append(ConversionRate(from_=CreditType(source), to=CreditType(target), rate=rate))
    return listed


@domain_errors_as(AccountSettingsResponse)
def update_account_settings(
    info: Info[Context, None], settings: AccountSettingsInput
) -> AccountSettingsResponse:
    """Admin scope: the points precision and conversion rates, checked as convertCredit does."""
    context = info.context
    change = service.SettingsChange(
        points_precision=settings.points_precision,
        conversion_rates={
            f"{rate.from_.value}_TO_{rate.to.value}": rate.rate
            for rate in settings.conversion_rates or []
        },
    )
    changed = service.update_amount_settings(context.db, context.principal, change)
    return AccountSettingsResponse(
        success=True,
        points_precision=changed.points_precision,
        conversion_rates=_rates(changed.conversion_rates),
    )


def account_conversion_rates(info: Info[Context, None]) -> list[ConversionRate]:
    context = info.context
    return _rates(
        service.current_amount_settings(
            context.connection(), context.principal.account_id
        ).conversion_rates
    )
