"""A deterministic synthetic aromatherapy shop: customers, orders, refunds, engagement and consent.

The same seed and size always give the same shop. Every customer is drawn from their own random stream, derived
in customer order from ``random.Random(seed)``, so the full shop (``generate_shop``) and the streamed histories
(``generate_histories``) agree fact for fact without either building the other.

Everything is made up: names come from short lists, email addresses use the reserved ``example.*`` domains, and
phone numbers only have the E.164 shape (GB, US and FR numbers come from ranges set aside for fiction).
Nothing here may be sent to a real channel.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import Any, Generic, NamedTuple, TypeVar

from segmentation.domain.models import (
    ConsentChannel,
    ConsentState,
    ConsentStatus,
    CustomerProfile,
    CustomerUpsert,
    EngagementKind,
    EngagementRecorded,
    OrderCompleted,
    OrderLine,
    OrderRefunded,
    StoredEngagement,
    StoredOrder,
)
from segmentation.features.compute import CustomerHistory

DEFAULT_START = date(2024, 11, 1)
DEFAULT_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = "shop"
CONSENT_SOURCE = "signup"
SHOP_URL = "https://shop.example.com"

DAY = 86_400.0


_T = TypeVar("_T")


class _Weighted(Generic[_T]):
    """A fixed weighted choice, drawn with a single random number."""

    __slots__ = ("cumulative", "items", "total")

    def __init__(self, items: Sequence[_T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> _T:
        return self.items[bisect_right(self.cumulative, rng.random() * self.total)]


CATEGORIES = ("essential_oils", "carrier_oils", "diffusers", "candles", "bath_salts", "gift_sets", "refills")

# Relative popularity; lavender is the best seller by a distance.
SCENT_POPULARITY: dict[str, float] = {
    "lavender": 24,
    "eucalyptus": 12,
    "citrus": 12,
    "peppermint": 11,
    "tea_tree": 9,
    "rose": 8,
    "sandalwood": 7,
    "chamomile": 7,
    "frankincense": 6,
    "ylang_ylang": 4,
}
SCENTS = tuple(SCENT_POPULARITY)


class Product(NamedTuple):
    sku: str
    category: str
    scent: str | None
    price: float


CATALOGUE: tuple[Product, ...] = (
    Product("EO-LAV-10", "essential_oils", "lavender", 7.50),
    Product("EO-EUC-10", "essential_oils", "eucalyptus", 6.50),
    Product("EO-PEP-10", "essential_oils", "peppermint", 6.90),
    Product("EO-TEA-10", "essential_oils", "tea_tree", 6.50),
    Product("EO-CIT-10", "essential_oils", "citrus", 5.90),
    Product("EO-ROS-10", "essential_oils", "rose", 24.00),
    Product("EO-SAN-10", "essential_oils", "sandalwood", 19.50),
    Product("EO-FRA-10", "essential_oils", "frankincense", 14.90),
    Product("EO-YLA-10", "essential_oils", "ylang_ylang", 9.90),
    Product("EO-CHA-10", "essential_oils", "chamomile", 16.50),
    Product("CO-ALM-100", "carrier_oils", None, 8.50),
    Product("CO-JOJ-100", "carrier_oils", None, 12.90),
    Product("CO-COC-100", "carrier_oils", None, 7.90),
    Product("CO-ARG-50", "carrier_oils", None, 14.50),
    Product("CO-GRA-100", "carrier_oils", None, 6.90),
    Product("DF-MINI", "diffusers", None, 24.90),
    Product("DF-CERAMIC", "diffusers", None, 39.00),
    Product("DF-WOOD", "diffusers", None, 49.00),
    Product("DF-NEBULISER", "diffusers", None, 89.00),
    Product("DF-CAR", "diffusers", None, 14.90),
    Product("CA-LAV", "candles", "lavender", 22.00),
    Product("CA-EUC", "candles", "eucalyptus", 22.00),
    Product("CA-CIT", "candles", "citrus", 19.50),
    Product("CA-ROS", "candles", "rose", 26.00),
    Product("CA-SAN", "candles", "sandalwood", 26.00),
    Product("CA-FRA", "candles", "frankincense", 24.00),
    Product("BS-LAV", "bath_salts", "lavender", 11.50),
    Product("BS-EUC", "bath_salts", "eucalyptus", 11.50),
    Product("BS-PEP", "bath_salts", "peppermint", 10.90),
    Product("BS-ROS", "bath_salts", "rose", 13.90),
    Product("BS-CHA", "bath_salts", "chamomile", 12.50),
    Product("GS-SLEEP", "gift_sets", "lavender", 34.00),
    Product("GS-WINTER", "gift_sets", "frankincense", 42.00),
    Product("GS-ROSE", "gift_sets", "rose", 39.00),
    Product("GS-STARTER", "gift_sets", None, 29.00),
    Product("GS-DELUXE", "gift_sets", None, 79.00),
    Product("RF-LAV-200", "refills", "lavender", 14.50),
    Product("RF-CIT-200", "refills", "citrus", 13.50),
    Product("RF-SAN-200", "refills", "sandalwood", 16.50),
    Product("RF-EUC-200", "refills", "eucalyptus", 13.50),
)
_PRODUCTS_BY_CATEGORY: dict[str, tuple[Product, ...]] = {
    category: tuple(p for p in CATALOGUE if p.category == category) for category in CATEGORIES
}

_CATEGORY_WEIGHT = {
    "essential_oils": 30,
    "carrier_oils": 9,
    "diffusers": 6,
    "candles": 15,
    "bath_salts": 13,
    "gift_sets": 7,
    "refills": 12,
}
# Month -> multiplier; months not listed keep 1.0.
_CATEGORY_SEASON: dict[str, dict[int, float]] = {
    "gift_sets": {2: 1.5, 5: 1.3, 11: 2.5, 12: 6.0},
    "candles": {1: 1.3, 6: 0.5, 7: 0.5, 8: 0.5, 10: 1.4, 11: 1.6, 12: 1.8},
    "diffusers": {11: 1.4, 12: 1.8},
    "bath_salts": {1: 1.3, 2: 1.2, 6: 0.8, 7: 0.8, 8: 0.8},
}
_SCENT_SEASON: dict[str, dict[str, float]] = {
    "summer": {"citrus": 1.6, "peppermint": 1.5},
    "winter": {"frankincense": 1.8, "sandalwood": 1.4},
}
# Orders per month relative to an ordinary month: the Q4 peak and a quiet summer.
_MONTH_WEIGHT = (0.0, 0.85, 0.9, 0.95, 0.9, 0.95, 0.75, 0.7, 0.72, 0.95, 1.1, 1.6, 2.1)
# Orders per UTC hour: most customers are in Europe and shop in the evening.
_HOUR_WEIGHT = (
    *(0.12, 0.08, 0.05, 0.05, 0.05, 0.08, 0.2),
    *(0.4, 0.55, 0.6, 0.65, 0.7, 0.8, 0.8, 0.75),
    *(0.7, 0.7, 0.8, 0.95, 1.0, 1.0, 0.95, 0.7, 0.35),
)
_MAX_MONTH_WEIGHT = max(_MONTH_WEIGHT)


class City(NamedTuple):
    name: str
    region: str
    weight: float
    postcodes: tuple[str, ...]  # patterns: "#" a digit, "L" a letter, anything else literal


_COUNTRIES: dict[str, tuple[float, tuple[City, ...]]] = {
    "GB": (
        38,
        (
            City("London", "Greater London", 30, ("SW4 #LL", "SE15 #LL", "N16 #LL", "E8 #LL", "NW5 #LL", "W12 #LL")),
            City("Manchester", "Greater Manchester", 11, ("M1 #LL", "M14 #LL", "M20 #LL")),
            City("Bristol", "City of Bristol", 8, ("BS1 #LL", "BS6 #LL", "BS8 #LL")),
            City("Leeds", "West Yorkshire", 7, ("LS1 #LL", "LS6 #LL", "LS8 #LL")),
            City("Brighton", "East Sussex", 7, ("BN1 #LL", "BN2 #LL")),
            City("Edinburgh", "Scotland", 8, ("EH1 #LL", "EH6 #LL", "EH10 #LL")),
            City("Glasgow", "Scotland", 6, ("G3 #LL", "G12 #LL")),
            City("Cardiff", "Wales", 5, ("CF10 #LL", "CF24 #LL")),
        ),
    ),
    "DE": (
        16,
        (
            City("Berlin", "Berlin", 30, ("10###", "12###", "13###")),
            City("Hamburg", "Hamburg", 18, ("20###", "22###")),
            City("München", "Bayern", 18, ("80###", "81###")),
            City("Köln", "Nordrhein-Westfalen", 14, ("50###", "51###")),
            City("Frankfurt am Main", "Hessen", 12, ("60###",)),
            City("Leipzig", "Sachsen", 8, ("04###",)),
        ),
    ),
    "FR": (
        12,
        (
            City("Paris", "Île-de-France", 40, tuple(f"750{n:02d}" for n in range(1, 21))),
            City("Lyon", "Auvergne-Rhône-Alpes", 16, tuple(f"6900{n}" for n in range(1, 10))),
            City("Marseille", "Provence-Alpes-Côte d'Azur", 14, tuple(f"130{n:02d}" for n in range(1, 17))),
            City("Bordeaux", "Nouvelle-Aquitaine", 11, ("33000", "33100", "33200", "33300", "33800")),
            City("Lille", "Hauts-de-France", 9, ("59000", "59800")),
            City("Nantes", "Pays de la Loire", 10, ("44000", "44100", "44200", "44300")),
        ),
    ),
    "NL": (
        9,
        (
            City("Amsterdam", "Noord-Holland", 38, ("10## LL",)),
            City("Rotterdam", "Zuid-Holland", 22, ("30## LL",)),
            City("Den Haag", "Zuid-Holland", 16, ("25## LL",)),
            City("Utrecht", "Utrecht", 14, ("35## LL",)),
            City("Eindhoven", "Noord-Brabant", 10, ("56## LL",)),
        ),
    ),
    "IE": (
        8,
        (
            City("Dublin", "County Dublin", 55, ("D02 L#L#", "D04 L#L#", "D06 L#L#", "D08 L#L#")),
            City("Cork", "County Cork", 22, ("T12 L#L#", "T23 L#L#")),
            City("Galway", "County Galway", 13, ("H91 L#L#",)),
            City("Limerick", "County Limerick", 10, ("V94 L#L#",)),
        ),
    ),
    "US": (
        7,
        (
            City("New York", "NY", 30, ("100##",)),
            City("San Francisco", "CA", 20, ("941##",)),
            City("Austin", "TX", 14, ("787##",)),
            City("Seattle", "WA", 14, ("981##",)),
            City("Boston", "MA", 12, ("021##",)),
            City("Portland", "OR", 10, ("972##",)),
        ),
    ),
    "ES": (
        5,
        (
            City("Madrid", "Comunidad de Madrid", 35, ("280##",)),
            City("Barcelona", "Cataluña", 30, ("080##",)),
            City("Valencia", "Comunidad Valenciana", 14, ("460##",)),
            City("Sevilla", "Andalucía", 12, ("410##",)),
            City("Bilbao", "País Vasco", 9, ("480##",)),
        ),
    ),
    "IT": (
        5,
        (
            City("Roma", "Lazio", 30, ("001##",)),
            City("Milano", "Lombardia", 30, ("201##",)),
            City("Firenze", "Toscana", 14, ("501##",)),
            City("Torino", "Piemonte", 14, ("101##",)),
            City("Bologna", "Emilia-Romagna", 12, ("401##",)),
        ),
    ),
}
_COUNTRY = _Weighted(tuple(_COUNTRIES), [weight for weight, _ in _COUNTRIES.values()])
_CITY = {code: _Weighted(cities, [city.weight for city in cities]) for code, (_, cities) in _COUNTRIES.items()}
_US_AREA_CODES = {
    "New York": "212",
    "San Francisco": "415",
    "Austin": "512",
    "Seattle": "206",
    "Boston": "617",
    "Portland": "503",
}
# Patterns as for postcodes; "#" digits fill the rest of an E.164 number.
_PHONE_PATTERNS = {
    "GB": "+447700900###",  # Ofcom's drama range
    "FR": "+3363998####",  # ARCEP's range for fiction
    "DE": "+4915#########",
    "NL": "+316########",
    "IE": "+35387#######",
    "ES": "+346########",
    "IT": "+393#########",
}


class _Names(NamedTuple):
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


_NEUTRAL_NAMES = ("Alex", "Sam", "Charlie", "Robin", "Jamie", "Kim", "Noa", "Sasha")
_ENGLISH = _Names(
    ("Olivia", "Emily", "Sophie", "Charlotte", "Grace", "Amelia", "Hannah", "Chloe", "Lucy", "Aoife", "Emma", "Megan"),
    ("James", "Oliver", "Jack", "Harry", "Thomas", "George", "Daniel", "Liam", "Conor", "Michael"),
    ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walsh", "Murphy", "O'Brien", "Clarke"),
)
_NAMES: dict[str, _Names] = {
    "GB": _ENGLISH,
    "IE": _ENGLISH,
    "US": _ENGLISH,
    "DE": _Names(
        ("Anna", "Lena", "Laura", "Julia", "Sophie", "Katrin", "Sabine", "Miriam", "Jana", "Lea"),
        ("Lukas", "Jonas", "Felix", "Jan", "Tobias", "Stefan", "Michael", "Jürgen"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"),
    ),
    "FR": _Names(
        ("Camille", "Léa", "Manon", "Chloé", "Inès", "Julie", "Sophie", "Claire", "Élodie", "Margaux"),
        ("Lucas", "Hugo", "Louis", "Thomas", "Nicolas", "Julien", "Antoine", "Mathieu"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre", "Moreau"),
    ),
    "NL": _Names(
        ("Emma", "Sanne", "Lotte", "Fleur", "Anouk", "Femke", "Iris", "Julia", "Eva", "Noor"),
        ("Daan", "Sem", "Lars", "Bram", "Thijs", "Ruben", "Jeroen", "Pieter"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder"),
    ),
    "ES": _Names(
        ("Lucía", "María", "Paula", "Laura", "Carmen", "Elena", "Marta", "Sara", "Alba", "Irene"),
        ("Hugo", "Pablo", "Daniel", "Javier", "Carlos", "Alejandro", "Sergio", "David"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Romero", "Navarro"),
    ),
    "IT": _Names(
        ("Giulia", "Sofia", "Martina", "Chiara", "Francesca", "Alessia", "Elena", "Sara", "Valentina", "Federica"),
        ("Lorenzo", "Matteo", "Marco", "Luca", "Andrea", "Davide", "Giuseppe", "Alessandro"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"),
    ),
}

_GENDER = _Weighted(("female", "male", "non_binary", "unspecified", None), (66, 27, 3, 2, 2))
# Age bands in years (from, to), weighted by their share of the customer base.
_AGE_BAND = _Weighted(
    ((18.01, 25.0), (25.0, 35.0), (35.0, 45.0), (45.0, 55.0), (55.0, 65.0), (65.0, 80.99)), (8, 24, 26, 21, 13, 8)
)
_EMAIL_DOMAIN = _Weighted(("example.com", "example.org", "example.net"), (60, 25, 15))

_STATUSES = (
    ConsentStatus.SUBSCRIBED.value,
    ConsentStatus.UNSUBSCRIBED.value,
    ConsentStatus.NEVER_ASKED.value,
    ConsentStatus.PENDING.value,
)
_EMAIL_CONSENT = _Weighted(_STATUSES, (66, 12, 15, 7))
_VIP_EMAIL_CONSENT = _Weighted(_STATUSES, (82, 8, 6, 4))
_SMS_CONSENT = _Weighted(_STATUSES, (28, 14, 53, 5))
_ADS_CONSENT = _Weighted(_STATUSES, (12, 18, 70, 0))

_VIP, _REGULAR, _ONE_TIME, _DORMANT, _NEW, _BROWSER = "vip", "regular", "one_time", "dormant", "new", "browser"
# Buying pattern by time since registration: lapsing needs a buying spell that ended more than 90 days ago.
_ARCHETYPE_NEW = _Weighted((_NEW, _BROWSER), (78, 22))
_ARCHETYPE_SHORT = _Weighted((_REGULAR, _ONE_TIME, _BROWSER), (38, 24, 13))
_ARCHETYPE_MID = _Weighted((_REGULAR, _ONE_TIME, _BROWSER, _VIP), (38, 24, 13, 8))
_ARCHETYPE_LONG = _Weighted((_REGULAR, _ONE_TIME, _BROWSER, _VIP, _DORMANT), (38, 24, 13, 8, 17))
_LEVELS = ("high", "medium", "low", "none")
_ENGAGEMENT_LEVEL = {
    _VIP: _Weighted(_LEVELS, (55, 35, 10, 0)),
    _REGULAR: _Weighted(_LEVELS, (20, 45, 25, 10)),
    _ONE_TIME: _Weighted(_LEVELS, (5, 25, 40, 30)),
    _DORMANT: _Weighted(_LEVELS, (2, 10, 38, 50)),
    _NEW: _Weighted(_LEVELS, (30, 40, 30, 0)),
    _BROWSER: _Weighted(_LEVELS, (10, 40, 35, 15)),
}
# (opens in the last 30 days, opens 30-60 days ago, site visits in the last 60 days, older events)
_ENGAGEMENT_COUNTS: dict[str, tuple[tuple[int, int], ...]] = {
    "high": ((3, 9), (1, 5), (2, 10), (2, 10)),
    "medium": ((0, 2), (0, 3), (1, 5), (1, 6)),
    "low": ((0, 1), (0, 1), (0, 2), (0, 4)),
    "none": ((0, 0), (0, 0), (0, 0), (0, 2)),
}
_REFUND_RATE = 0.02
_UPDATE_RATE = 0.025


@dataclass(slots=True)
class _Order:
    order_id: str
    placed_at: datetime
    total: float
    lines: list[OrderLine]
    refund: tuple[datetime, float] | None = None


@dataclass(slots=True)
class _Person:
    """One customer's facts as plain values, before they become events or a history."""

    customer_id: str
    registered_at: datetime
    fields: dict[str, Any]
    consent: dict[str, str]
    updates: list[tuple[datetime, dict[str, Any]]]
    orders: list[_Order]
    engagements: list[tuple[str, EngagementKind, datetime, str | None, str | None]]  # id, kind, at, campaign, url


@dataclass
class Shop:
    """Every fact the shop has sent us, each list in chronological order (customers in id order)."""

    customers: list[tuple[str, CustomerUpsert]] = field(default_factory=list)
    consents: dict[str, dict[ConsentChannel, ConsentStatus]] = field(default_factory=dict)
    orders: list[OrderCompleted] = field(default_factory=list)
    refunds: list[OrderRefunded] = field(default_factory=list)
    engagements: list[EngagementRecorded] = field(default_factory=list)
    updates: list[tuple[str, CustomerUpsert]] = field(default_factory=list)
    end: datetime = DEFAULT_END

    def events(self) -> Iterator[dict[str, Any]]:
        """Every fact as an EventBridge event, oldest first; registrations carry the consent map."""
        keyed: list[tuple[datetime, int, int, Any]] = []
        for n, (customer_id, upsert) in enumerate(self.customers):
            keyed.append((_when(upsert.registered_at), 0, n, (customer_id, upsert)))
        for n, (customer_id, upsert) in enumerate(self.updates):
            keyed.append((_when(upsert.occurred_at), 1, n, (customer_id, upsert)))
        keyed.extend((order.placed_at, 2, n, order) for n, order in enumerate(self.orders))
        keyed.extend((refund.refunded_at, 3, n, refund) for n, refund in enumerate(self.refunds))
        keyed.extend((event.occurred_at, 4, n, event) for n, event in enumerate(self.engagements))
        keyed.sort(key=lambda item: item[:3])
        for at, rank, _, fact in keyed:
            detail = self._detail(rank, fact)
            yield {"source": SOURCE, "detail-type": _DETAIL_TYPES[rank], "time": _iso(at), "detail": detail}

    def histories(self, now: datetime) -> list[CustomerHistory]:
        """Every customer registered by ``now`` with the facts recorded by then, refunds folded into orders."""
        updates: defaultdict[str, list[CustomerUpsert]] = defaultdict(list)
        for customer_id, upsert in self.updates:
            if _when(upsert.occurred_at) <= now:
                updates[customer_id].append(upsert)
        refunds: defaultdict[str, list[OrderRefunded]] = defaultdict(list)
        for refund in self.refunds:
            if refund.refunded_at <= now:
                refunds[refund.order_id].append(refund)
        orders: defaultdict[str, list[StoredOrder]] = defaultdict(list)
        for order in self.orders:
            if order.placed_at <= now:
                orders[order.customer_id].append(_stored_order(order, refunds.get(order.order_id, [])))
        engagements: defaultdict[str, list[StoredEngagement]] = defaultdict(list)
        for event in self.engagements:
            if event.occurred_at <= now:
                engagements[event.customer_id].append(
                    StoredEngagement(
                        event_id=event.event_id,
                        kind=event.kind,
                        occurred_at=event.occurred_at,
                        campaign=event.campaign,
                        url=event.url,
                    )
                )
        histories = []
        for customer_id, registration in self.customers:
            registered_at = _when(registration.registered_at)
            if registered_at > now:
                continue
            consent = {
                channel: ConsentState(status=status, source=CONSENT_SOURCE, updated_at=registered_at)
                for channel, status in self.consents[customer_id].items()
            }
            profile = CustomerProfile(customer_id=customer_id, consent=consent).apply(registration, registered_at)
            profile.updated_at = registered_at
            for change in updates[customer_id]:
                profile = profile.apply(change, _when(change.occurred_at))
                profile.updated_at = change.occurred_at
            # Field timestamps are write-path bookkeeping; evaluators never read them, and the streaming path
            # (generate_histories) builds profiles without them.
            profile.field_times = {}
            histories.append(CustomerHistory(profile, orders[customer_id], engagements[customer_id]))
        return histories

    def _detail(self, rank: int, fact: Any) -> dict[str, Any]:
        if rank <= 1:
            customer_id, upsert = fact
            detail = {"customer_id": customer_id, **upsert.model_dump(mode="json", exclude_none=True)}
            if rank == 0:
                consent = self.consents[customer_id]
                detail["consent"] = {channel.value: status.value for channel, status in consent.items()}
            return detail
        return fact.model_dump(mode="json", exclude_none=True)


_DETAIL_TYPES = ("CustomerRegistered", "CustomerUpdated", "OrderCompleted", "OrderRefunded", "EngagementRecorded")


def generate_shop(
    seed: int = 7,
    customers: int = 5000,
    start: date = DEFAULT_START,
    end: datetime = DEFAULT_END,
) -> Shop:
    """The shop for ``seed``: ``customers`` customers registering from ``start``, every fact at or before ``end``."""
    shop = Shop(end=end)
    for person in _people(seed, customers, start, end):
        _record(shop, person)
    shop.updates.sort(key=lambda item: _when(item[1].occurred_at))
    shop.orders.sort(key=lambda order: (order.placed_at, order.order_id))
    shop.refunds.sort(key=lambda refund: (refund.refunded_at, refund.order_id))
    shop.engagements.sort(key=lambda event: (event.occurred_at, event.event_id))
    return shop


def generate_histories(
    seed: int = 7,
    customers: int = 5000,
    end: datetime = DEFAULT_END,
    *,
    start: date = DEFAULT_START,
    now: datetime | None = None,
) -> Iterator[CustomerHistory]:
    """The same customers as ``generate_shop``, one history at a time, as of ``now`` (default ``end``)."""
    as_of = end if now is None else now
    for person in _people(seed, customers, start, end):
        if person.registered_at <= as_of:
            yield _history(person, as_of)


# Building the shop and the histories from plain facts.


def _record(shop: Shop, person: _Person) -> None:
    customer_id = person.customer_id
    registration = CustomerUpsert(**person.fields, registered_at=person.registered_at, occurred_at=person.registered_at)
    shop.customers.append((customer_id, registration))
    shop.consents[customer_id] = {ConsentChannel(ch): ConsentStatus(st) for ch, st in person.consent.items()}
    for at, change in person.updates:
        shop.updates.append((customer_id, CustomerUpsert(**change, occurred_at=at)))
    for order in person.orders:
        shop.orders.append(
            OrderCompleted(
                order_id=order.order_id,
                customer_id=customer_id,
                placed_at=order.placed_at,
                total=order.total,
                lines=order.lines,
            )
        )
        if order.refund:
            refunded_at, amount = order.refund
            shop.refunds.append(
                OrderRefunded(order_id=order.order_id, customer_id=customer_id, refunded_at=refunded_at, amount=amount)
            )
    for event_id, kind, at, campaign, url in person.engagements:
        shop.engagements.append(
            EngagementRecorded(
                event_id=event_id,
                customer_id=customer_id,
                kind=kind,
                occurred_at=at,
                campaign=campaign,
                url=url,
            )
        )


def _history(person: _Person, now: datetime) -> CustomerHistory:
    values = dict(person.fields)
    updated_at = person.registered_at
    for at, change in person.updates:
        if at > now:
            continue
        updated_at = at
        for name, value in change.items():
            if name == "custom":
                values["custom"] = {**values.get("custom", {}), **value}
            else:
                values[name] = value
    for name in ("preferred_scents", "preferred_categories", "tags"):
        values[name] = sorted(set(values.get(name) or ()))
    consent = {
        ConsentChannel(channel): ConsentState(
            status=ConsentStatus(status), source=CONSENT_SOURCE, updated_at=person.registered_at
        )
        for channel, status in person.consent.items()
    }
    profile = CustomerProfile(
        customer_id=person.customer_id,
        **values,
        consent=consent,
        registered_at=person.registered_at,
        updated_at=updated_at,
    )
    orders = []
    for order in person.orders:
        if order.placed_at > now:
            continue
        refunded, refunded_at = 0.0, None
        if order.refund and order.refund[0] <= now:
            refunded_at, refunded = order.refund
        orders.append(
            StoredOrder(
                order_id=order.order_id,
                placed_at=order.placed_at,
                total=order.total,
                refunded=refunded,
                refunded_at=refunded_at,
                lines=order.lines,
            )
        )
    engagements = [
        StoredEngagement(event_id=event_id, kind=kind, occurred_at=at, campaign=campaign, url=url)
        for event_id, kind, at, campaign, url in person.engagements
        if at <= now
    ]
    return CustomerHistory(profile, orders, engagements)


def _stored_order(order: OrderCompleted, refunds: list[OrderRefunded]) -> StoredOrder:
    return StoredOrder(
        order_id=order.order_id,
        placed_at=order.placed_at,
        currency=order.currency,
        total=order.total,
        refunded=round(sum(refund.amount for refund in refunds), 2),
        refunded_at=max((refund.refunded_at for refund in refunds), default=None),
        lines=order.lines,
    )


@cache
def _line(sku: str, quantity: int, unit_price: float) -> OrderLine:
    # Lines repeat a lot across orders; sharing them keeps a million-customer history small. Treat as read-only.
    product = _PRODUCTS[sku]
    return OrderLine(sku=sku, category=product.category, scent=product.scent, quantity=quantity, unit_price=unit_price)


def _when(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("a generated customer fact always has a time")
    return value


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Drawing one customer's facts from their own random stream.

_REGISTRATION_SEASON = (0.0, 1.25, 1.0, 1.0, 1.0, 1.0, 0.85, 0.85, 0.85, 1.0, 1.1, 1.4, 1.6)
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_DIGITS = "0123456789"
_HOUR = _Weighted(range(24), _HOUR_WEIGHT)
_LINE_COUNT = _Weighted((1, 2, 3, 4, 5), (45, 30, 15, 7, 3))
_QUANTITY = _Weighted((1, 2, 3), (75, 20, 5))
_TASTE_SIZE = _Weighted((1, 2, 3), (40, 40, 20))
_SCENT = _Weighted(SCENTS, tuple(SCENT_POPULARITY.values()))
_FAVOURITE = _Weighted(CATEGORIES, [_CATEGORY_WEIGHT[c] for c in CATEGORIES])
_BULK_CATEGORIES = frozenset({"essential_oils", "carrier_oils", "refills"})
_LOYALTY_TIERS = ("bronze", "silver", "gold")


def _people(seed: int, customers: int, start: date, end: datetime) -> Iterator[_Person]:
    """Customers in id order, which is also registration order."""
    if customers < 0:
        raise ValueError("customers must not be negative")
    lo, hi = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp(), end.timestamp()
    if lo >= hi:
        raise ValueError("start must be before end")
    registration_time = _registration_clock(lo, hi)
    master = random.Random(seed)
    for index in range(customers):
        rng = random.Random(master.getrandbits(64))
        # Spreading the quantiles evenly keeps ids in registration order at any size.
        registered = registration_time((index + rng.random()) / customers)
        yield _person(rng, index + 1, registered, float(int(hi)))


def _registration_clock(lo: float, hi: float) -> Callable[[float], float]:
    """A map from a quantile in [0, 1) to a registration time: the shop grows, with a Q4 bump."""
    starts: list[float] = []
    lengths: list[float] = []
    cumulative: list[float] = []
    total, t = 0.0, lo
    while t < hi:
        length = min(DAY, hi - t)
        growth = 1.0 + 1.2 * (t - lo) / (hi - lo)
        total += growth * _REGISTRATION_SEASON[datetime.fromtimestamp(t, UTC).month] * length / DAY
        starts.append(t)
        lengths.append(length)
        cumulative.append(total)
        t += length

    def at(quantile: float) -> float:
        target = quantile * total
        i = min(bisect_right(cumulative, target), len(cumulative) - 1)
        before = cumulative[i - 1] if i else 0.0
        within = (target - before) / (cumulative[i] - before)
        return float(min(int(starts[i] + within * lengths[i]), int(hi) - 1))

    return at


def _person(rng: random.Random, number: int, reg: float, end: float) -> _Person:
    tenure = (end - reg) / DAY
    archetype = _archetype(rng, tenure)
    country = _COUNTRY.pick(rng)
    city = _CITY[country].pick(rng)
    gender = _GENDER.pick(rng)
    first, last = _name(rng, country, gender)
    domain = _EMAIL_DOMAIN.pick(rng)
    fields: dict[str, Any] = {
        "email": f"{_ascii(first)}.{_ascii(last)}{number}@{domain}",
        "first_name": first,
        "last_name": last,
        "country": country,
        "region": city.region,
        "city": city.name,
        "postal_code": _fill(rng, _any(rng, city.postcodes)),
    }
    if gender is not None:
        fields["gender"] = gender
    end_date = datetime.fromtimestamp(end, UTC).date()
    if rng.random() < 0.88:
        fields["birth_date"] = _birth_date(rng, end_date)
    phone = _phone(rng, country, city) if rng.random() < 0.55 else None
    if phone:
        fields["phone"] = phone

    taste = _taste(rng)
    favourite = _FAVOURITE.pick(rng)
    declared: list[str] = []
    if rng.random() < 0.55:
        declared = sorted(taste[: _int(rng, 1, len(taste))])
        fields["preferred_scents"] = declared
    if rng.random() < 0.25:
        fields["preferred_categories"] = sorted({favourite, _any(rng, CATEGORIES)})

    consent = _consent(rng, archetype, has_phone=phone is not None)
    tags = _tags(rng, archetype, consent["email"])
    if tags:
        fields["tags"] = tags
    tier = _loyalty_tier(rng, archetype)
    if tier:
        fields["custom"] = {"loyalty_tier": tier}

    order_times, stop = _order_times(rng, archetype, reg, end, tenure)
    shopper = _Shopper(rng, taste, favourite, wholesale="wholesale" in tags)
    orders = []
    for k, ts in enumerate(order_times, start=1):
        orders.append(shopper.order(f"ord-{number:06d}-{k:03d}", ts, end))
    engagements = _engagements(rng, archetype, reg, end, stop, consent["email"], order_times, shopper)
    updates = _updates(rng, reg, end, tenure, country, city, declared, tier, bool(orders), phone)
    return _Person(
        customer_id=f"c{number:06d}",
        registered_at=_dt(reg),
        fields=fields,
        consent=consent,
        updates=updates,
        orders=orders,
        engagements=[
            (f"evt-{number:06d}-{k:04d}", kind, _dt(ts), campaign, url)
            for k, (ts, kind, campaign, url) in enumerate(engagements, start=1)
        ],
    )


def _archetype(rng: random.Random, tenure: float) -> str:
    if tenure < 45:
        return _ARCHETYPE_NEW.pick(rng)
    if tenure < 120:
        return _ARCHETYPE_SHORT.pick(rng)
    if tenure < 200:
        return _ARCHETYPE_MID.pick(rng)
    return _ARCHETYPE_LONG.pick(rng)


def _name(rng: random.Random, country: str, gender: str | None) -> tuple[str, str]:
    names = _NAMES[country]
    if gender == "female":
        pool = names.female
    elif gender == "male":
        pool = names.male
    elif gender == "non_binary":
        pool = _NEUTRAL_NAMES
    else:
        pool = names.female + names.male + _NEUTRAL_NAMES
    return _any(rng, pool), _any(rng, names.last)


@cache
def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _fill(rng: random.Random, pattern: str) -> str:
    out = []
    for c in pattern:
        if c == "#":
            out.append(_DIGITS[int(rng.random() * 10)])
        elif c == "L":
            out.append(_any(rng, _POSTCODE_LETTERS))
        else:
            out.append(c)
    return "".join(out)


def _phone(rng: random.Random, country: str, city: City) -> str:
    if country == "US":
        return f"+1{_US_AREA_CODES[city.name]}55501{_int(rng, 0, 99):02d}"  # 555-0100..0199 is for fiction
    return _fill(rng, _PHONE_PATTERNS[country])


def _birth_date(rng: random.Random, today: date) -> date:
    low, high = _AGE_BAND.pick(rng)
    return today - timedelta(days=int(rng.uniform(low, high) * 365.2425))


def _taste(rng: random.Random) -> list[str]:
    """One to three scents the customer keeps coming back to, popular ones more often."""
    wanted = _TASTE_SIZE.pick(rng)
    taste: list[str] = []
    while len(taste) < wanted:
        scent = _SCENT.pick(rng)
        if scent not in taste:
            taste.append(scent)
    return taste


def _consent(rng: random.Random, archetype: str, *, has_phone: bool) -> dict[str, str]:
    email = _VIP_EMAIL_CONSENT if archetype == _VIP else _EMAIL_CONSENT
    return {
        ConsentChannel.EMAIL.value: email.pick(rng),
        ConsentChannel.SMS.value: _SMS_CONSENT.pick(rng) if has_phone else ConsentStatus.NEVER_ASKED.value,
        ConsentChannel.ADS.value: _ADS_CONSENT.pick(rng),
    }


def _tags(rng: random.Random, archetype: str, email_status: str) -> list[str]:
    tags = []
    if email_status == "subscribed" and rng.random() < 0.35:
        tags.append("newsletter")
    if archetype in (_VIP, _REGULAR) and rng.random() < 0.03:
        tags.append("wholesale")
    if (archetype == _VIP and rng.random() < 0.4) or (archetype == _REGULAR and rng.random() < 0.03):
        tags.append("vip-event")
    if rng.random() < 0.04:
        tags.append("sample-box")
    return sorted(tags)


def _loyalty_tier(rng: random.Random, archetype: str) -> str | None:
    if archetype in (_NEW, _BROWSER) or rng.random() < 0.5:
        return None
    if archetype == _VIP:
        return "gold" if rng.random() < 0.8 else "silver"
    if archetype in (_REGULAR, _DORMANT):
        return "silver" if rng.random() < 0.4 else "bronze"
    return "bronze"


def _order_times(
    rng: random.Random, archetype: str, reg: float, end: float, tenure: float
) -> tuple[list[float], float]:
    """When the customer ordered, and when their buying stopped (``end`` unless they lapsed)."""
    stop = end
    if archetype == _DORMANT:
        stop = float(int(end - rng.uniform(95, min(420, tenure - 60)) * DAY))
    if archetype == _BROWSER or (archetype == _NEW and rng.random() < 0.45):
        return [], stop
    first = float(int(reg + _first_order_delay(rng)))
    if first > stop:
        return [], stop
    if archetype in (_NEW, _ONE_TIME):
        return [first], stop
    active = (stop - first) / DAY
    if archetype == _VIP:
        count = _clamp(round(active / rng.uniform(12, 28)), 10, 80)
    elif archetype == _DORMANT:
        count = _clamp(round(active / rng.uniform(18, 40)), 4, 18)
    else:
        count = _clamp(round(active / rng.uniform(35, 90)), 2, 20)
    return [first, *_seasonal_times(rng, count - 1, first, stop)], stop


def _first_order_delay(rng: random.Random) -> float:
    # Most people register at checkout; the rest come back within hours or weeks.
    roll = rng.random()
    if roll < 0.55:
        return rng.uniform(120, 2400)
    if roll < 0.8:
        return rng.uniform(3600, 3 * DAY)
    return rng.uniform(3 * DAY, 45 * DAY)


def _seasonal_times(rng: random.Random, count: int, lo: float, hi: float) -> list[float]:
    """``count`` sorted whole-second times in (lo, hi], denser in Q4 and in the evening."""
    times: list[float] = []
    span = hi - lo
    while len(times) < count and span >= DAY:
        day = int((hi - rng.random() * span) // DAY)
        if rng.random() * _MAX_MONTH_WEIGHT >= _MONTH_WEIGHT[_date_of_day(day).month]:
            continue
        ts = float(day * 86_400 + _HOUR.pick(rng) * 3600 + int(rng.random() * 3600))
        if lo < ts <= hi:
            times.append(ts)
    return sorted(times)


def _uniform_times(rng: random.Random, count: int, lo: float, hi: float) -> list[float]:
    if hi <= lo:
        return []
    return [float(int(lo + rng.random() * (hi - lo))) for _ in range(count)]


def _any(rng: random.Random, items: Sequence[_T]) -> _T:
    # One uniform draw is plenty here and much cheaper than Random.choice.
    return items[int(rng.random() * len(items))]


def _int(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class _Shopper:
    """Fills baskets for one customer: their scents and favourite category weigh in, and so does the season."""

    def __init__(self, rng: random.Random, taste: list[str], favourite: str, *, wholesale: bool) -> None:
        self.rng = rng
        self.taste = tuple(taste)
        self.favourite = favourite
        self.wholesale = wholesale

    def order(self, order_id: str, ts: float, end: float) -> _Order:
        rng = self.rng
        when = _date_of(ts)
        # Black Friday week: everything 20% off.
        discount = 0.8 if when.month == 11 and when.day >= 22 else 1.0
        basket: dict[Product, int] = {}
        for _ in range(_LINE_COUNT.pick(rng)):
            product = self.product(when.month)
            if self.wholesale and product.category in _BULK_CATEGORIES:
                quantity = _int(rng, 6, 24)
            else:
                quantity = _QUANTITY.pick(rng)
            basket[product] = basket.get(product, 0) + quantity
        lines = [
            _line(product.sku, quantity, round(product.price * discount, 2)) for product, quantity in basket.items()
        ]
        total = round(sum(line.quantity * line.unit_price for line in lines), 2)
        return _Order(order_id, datetime.fromtimestamp(ts, UTC), total, lines, self.refund(ts, total, lines, end))

    def product(self, month: int) -> Product:
        """A category by season and habit, then mostly one of the customer's scents if the category has it."""
        rng = self.rng
        category = _CATEGORY_CHOICE[self.favourite, month].pick(rng)
        if rng.random() < _TASTE_LOYALTY:
            product = _BY_CATEGORY_AND_SCENT.get((category, _any(rng, self.taste)))
            if product is not None:
                return product
        return _PRODUCT_CHOICE[category, _SEASONS[month]].pick(rng)

    def refund(self, ts: float, total: float, lines: list[OrderLine], end: float) -> tuple[datetime, float] | None:
        rng = self.rng
        if rng.random() >= _REFUND_RATE:
            return None
        at = float(int(ts + rng.uniform(1, 21) * DAY))
        if at > end:
            return None
        if rng.random() < 0.35:
            return _dt(at), total
        if len(lines) > 1 or lines[0].quantity > 1:
            return _dt(at), _any(rng, lines).unit_price  # one item came back
        return _dt(at), round(total * rng.uniform(0.2, 0.5), 2)

    def url(self, ts: float) -> str:
        return _product_url(self.product(_date_of(ts).month).sku)


_PRODUCTS = {product.sku: product for product in CATALOGUE}
_SEASONS = {
    month: "summer" if month in (6, 7, 8) else "winter" if month in (11, 12, 1) else "other" for month in range(1, 13)
}


def _appeal(product: Product, season: str) -> float:
    if product.scent is None:
        return 10.0 * (30.0 / product.price) ** 0.5  # cheaper unscented things sell more
    return SCENT_POPULARITY[product.scent] * _SCENT_SEASON.get(season, {}).get(product.scent, 1.0)


_TASTE_LOYALTY = 0.7  # how often a customer reaches for one of their own scents
_CATEGORY_CHOICE = {
    (favourite, month): _Weighted(
        CATEGORIES,
        [
            _CATEGORY_WEIGHT[c] * _CATEGORY_SEASON.get(c, {}).get(month, 1.0) * (2.5 if c == favourite else 1.0)
            for c in CATEGORIES
        ],
    )
    for favourite in CATEGORIES
    for month in range(1, 13)
}
_PRODUCT_CHOICE = {
    (category, season): _Weighted(products, [_appeal(product, season) for product in products])
    for category, products in _PRODUCTS_BY_CATEGORY.items()
    for season in ("summer", "winter", "other")
}
_BY_CATEGORY_AND_SCENT = {(product.category, product.scent): product for product in CATALOGUE if product.scent}


def _engagements(
    rng: random.Random,
    archetype: str,
    reg: float,
    end: float,
    stop: float,
    email_status: str,
    order_times: list[float],
    shopper: _Shopper,
) -> list[tuple[float, EngagementKind, str | None, str | None]]:
    """Opens, clicks and visits, mostly in the last 60 days; e-mail only reaches subscribers."""
    level = _ENGAGEMENT_LEVEL[archetype].pick(rng)
    opens_30, opens_60, visits_60, older = (_int(rng, low, high) for low, high in _ENGAGEMENT_COUNTS[level])
    emailable = email_status == "subscribed"
    # 29.5 days keeps "last 30 days" opens inside a 30-day window in any shop time zone.
    since_30, since_60 = max(reg, end - 29.5 * DAY), max(reg, end - 59 * DAY)
    opens: list[float] = []
    visits = _uniform_times(rng, visits_60, since_60, end)
    if emailable:
        opens += _uniform_times(rng, opens_30, since_30, end)
        opens += _uniform_times(rng, opens_60, since_60, since_30)
    for ts in _uniform_times(rng, older, reg, min(stop, end - 60 * DAY)):
        (opens if emailable and rng.random() < 0.6 else visits).append(ts)
    for ts in order_times:
        if ts >= end - 60 * DAY and rng.random() < 0.6 and ts - 60 >= reg:
            visits.append(float(int(ts - rng.uniform(60, 1800))))
    click_rate = 0.35 if level == "high" else 0.2
    events: list[tuple[float, EngagementKind, str | None, str | None]] = []
    for ts in opens:
        campaign = _campaign(ts)
        events.append((ts, EngagementKind.EMAIL_OPENED, campaign, None))
        if rng.random() < click_rate:
            clicked = float(int(ts + rng.uniform(10, 900)))
            if clicked <= end:
                events.append((clicked, EngagementKind.EMAIL_CLICKED, campaign, shopper.url(clicked)))
    for ts in visits:
        events.append((max(ts, reg), EngagementKind.SITE_VISITED, None, _visit_url(rng, shopper, ts)))
    events.sort(key=lambda event: (event[0], event[1]))
    return events


def _campaign(ts: float) -> str:
    return _campaign_of_day(int(ts // DAY))


@cache
def _campaign_of_day(day: int) -> str:
    when = _date_of_day(day)
    if when.month == 11 and when.day >= 20:
        return f"black-friday-{when.year}"
    if when.month == 12 and when.day <= 24:
        return f"gift-guide-{when.year}"
    year, week, _ = when.isocalendar()
    return f"newsletter-{year}-w{week:02d}"


def _visit_url(rng: random.Random, shopper: _Shopper, ts: float) -> str:
    roll = rng.random()
    if roll < 0.3:
        return _HOME_URL
    if roll < 0.6:
        return _any(rng, _CATEGORY_URLS)
    return shopper.url(ts)


def _updates(
    rng: random.Random,
    reg: float,
    end: float,
    tenure: float,
    country: str,
    city: City,
    declared: list[str],
    tier: str | None,
    has_orders: bool,
    phone: str | None,
) -> list[tuple[datetime, dict[str, Any]]]:
    """Now and then a profile change after registration: a move, a new favourite scent, a tier, a phone."""
    if tenure < 14 or rng.random() >= _UPDATE_RATE:
        return []
    at = _dt(float(int(reg + rng.uniform(7, tenure) * DAY)))
    options = ["move", "scent"]
    if has_orders and tier != "gold":
        options.append("loyalty")
    if phone is None:
        options.append("phone")
    kind = _any(rng, options)
    if kind == "move":
        new_city = _CITY[country].pick(rng)
        return [
            (
                at,
                {
                    "city": new_city.name,
                    "region": new_city.region,
                    "postal_code": _fill(rng, _any(rng, new_city.postcodes)),
                },
            )
        ]
    if kind == "scent":
        scent = _any(rng, [s for s in SCENTS if s not in declared])
        return [(at, {"preferred_scents": sorted([*declared, scent])})]
    if kind == "loyalty":
        next_tier = _LOYALTY_TIERS[_LOYALTY_TIERS.index(tier) + 1] if tier else "bronze"
        return [(at, {"custom": {"loyalty_tier": next_tier}})]
    return [(at, {"phone": _phone(rng, country, city)})]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _date_of(ts: float) -> date:
    return _date_of_day(int(ts // DAY))


@cache
def _date_of_day(day: int) -> date:
    """The UTC date ``day`` days after the epoch; cached, as every fact asks for its month."""
    return _EPOCH + timedelta(days=day)


@cache
def _product_url(sku: str) -> str:
    return f"{SHOP_URL}/p/{sku.lower()}"


_EPOCH = date(1970, 1, 1)
_HOME_URL = f"{SHOP_URL}/"
_CATEGORY_URLS = tuple(f"{SHOP_URL}/c/{category.replace('_', '-')}" for category in CATEGORIES)
