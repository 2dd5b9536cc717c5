"""Shopify-format exports of the synthetic shop: what a shop moving its history in would upload.

Customers export: the current Shopify header (see docs/imports.md), ids and phones with Shopify's leading
apostrophe, ``yes``/``no`` marketing flags, tags as one comma-separated cell. Orders export: one row per line
item, the order-level columns only on an order's first row, as Shopify writes it. Rows are produced one at a
time, so a file of any size is written in constant memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from local_runtime.shop import DEFAULT_END, DEFAULT_START, _people, _Person

CUSTOMER_HEADER = (
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
)
ORDER_HEADER = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Billing Name",
    "Billing City",
    "Billing Zip",
    "Billing Country",
    "Cancelled at",
)


def people(seed: int, customers: int, *, start: date = DEFAULT_START, end: datetime = DEFAULT_END) -> Iterator[_Person]:
    return _people(seed, customers, start, end)


def _line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def customer_rows(persons: Iterable[_Person], shopify_id_base: int = 7_000_000) -> Iterator[str]:
    """The customers export, header first, one line per person."""
    yield _line(CUSTOMER_HEADER)
    for person in persons:
        f = person.fields
        number = int(person.customer_id.lstrip("c"))
        spent = sum(order.total for order in person.orders)
        phone = f"'{f['phone']}" if f.get("phone") else ""
        yield _line(
            (
                f"'{shopify_id_base + number}",
                f.get("first_name", ""),
                f.get("last_name", ""),
                f["email"],
                "yes" if person.consent.get("email") == "subscribed" else "no",
                "",
                f"{number % 200 + 1} High Street",
                "",
                f.get("city", ""),
                "",
                f.get("country", ""),
                f.get("postal_code", ""),
                "",
                phone,
                "yes" if person.consent.get("sms") == "subscribed" else "no",
                f"{spent:.2f}",
                len(person.orders),
                "",
                "no",
                ", ".join(f.get("tags", [])),
            )
        )


def order_rows(persons: Iterable[_Person]) -> Iterator[str]:
    """The orders export: one row per line item, order columns on the first row of each order."""
    from local_runtime.shop import CATALOGUE

    names = {product.sku: product.sku.replace("-", " ").title() for product in CATALOGUE}
    yield _line(ORDER_HEADER)
    for person in persons:
        f = person.fields
        for order in person.orders:
            created = order.placed_at.strftime("%Y-%m-%d %H:%M:%S +0000")
            for n, line in enumerate(order.lines):
                first = n == 0
                yield _line(
                    (
                        "#" + order.order_id,
                        f["email"],
                        "paid" if first else "",
                        created if first else "",
                        "fulfilled" if first else "",
                        "EUR" if first else "",
                        f"{order.total:.2f}" if first else "",
                        "0.00" if first else "",
                        "0.00" if first else "",
                        f"{order.total:.2f}" if first else "",
                        created if first else "",
                        line.quantity,
                        names.get(line.sku, line.sku),
                        f"{line.unit_price:.2f}",
                        line.sku,
                        f"{f.get('first_name', '')} {f.get('last_name', '')}" if first else "",
                        f.get("city", "") if first else "",
                        f.get("postal_code", "") if first else "",
                        f.get("country", "") if first else "",
                        "",
                    )
                )
