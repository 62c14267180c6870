"""The synthetic county behind ``linli demo --scale N``: a register that looks like Pingyin's.

Real region codes; compounds of closed and open kinds with buildings at the standard's height
thresholds (≤ 6, 7–11, 12–18 and 19+ floors, one 33-floor tower always in the first community);
houses with facility rates that differ by community, so some pass the 70 % gigabit / TV line and
some do not; households with realistic compositions (60+ around a quarter overall, some old
communities above 30 %); ID numbers with valid check digits whose birth dates and gender digits
match each person; tenants (mostly floating population) in rented houses with rental records;
vehicles, organisations with valid credit codes and care tags on small, realistic shares.

Deterministic: each community is drawn from its own ``random.Random`` seeded by the seed, the
community's code and its share of the scale, so the same seed and scale give the same register.

This is bulk demo data, not casework: rows are written with ``bulk_create`` in one transaction
per community and each community gets ONE summarising audit entry ("N synthetic people") rather
than one per record; no service function runs per row. House use and address codes come from
the rules the services apply (``rules.py``), over the rows that are written, so they agree with
what the services would derive.

Idempotent: a community that already holds people or compounds is left alone, so running the
same command twice adds nothing (and real records are never mixed with synthetic ones).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.registry import rules
from linli.registry.choices import (
    CompoundKind,
    Education,
    Employment,
    HeadRelation,
    HouseUse,
    OrganisationKind,
    PoliticalStatus,
    RegistrationType,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    PersonTag,
    Rental,
    Residence,
    Tag,
    Unit,
    Vehicle,
    years_ago,
)
from linli.utilities import synthetic
from linli.utilities.fields import blind_index_for

DEFAULT_SEED: Final = 370124
DEFAULT_SCALE: Final = 3_000
# Ages, move-in dates and rentals are drawn relative to a fixed day, not today, so that a seed
# gives the same register whenever it runs; ages are still derived at the query date.
REFERENCE_DATE: Final = date(2026, 1, 1)
COUNTY_CODE: Final = "370124"
# The urban subdistricts fill first, starting with the communities of the demo accounts.
FIRST_SUBDISTRICTS: Final = ("370124001", "370124002")  # 榆山街道, 锦水街道
FIRST_COMMUNITIES: Final = ("370124001022", "370124001018")  # 锦源社区, 锦东社区
# An urban community in a county town holds some 5,000–8,000 people.
PEOPLE_PER_COMMUNITY: Final = 6_000
MIN_COMMUNITIES: Final = 2
TOWER_FLOORS: Final = 33
BATCH_SIZE: Final = 1_000
COUNTY_CENTRE: Final = (36.29, 116.45)

# Shandong counties (GB/T 2260) for the first six ID digits: Pingyin's own and its neighbours'
# weigh most, as they would in a county town's register.
LOCAL_PREFIX: Final = "370124"  # 平阴县
NEAR_PREFIXES: Final = (
    "370113",  # 长清区
    "370923",  # 东平县
    "370983",  # 肥城市
    "371524",  # 东阿县
    "371521",  # 阳谷县
    "370102",  # 历下区
    "370112",  # 历城区
)
FAR_PREFIXES: Final = (
    "370126",  # 商河县
    "370214",  # 城阳区
    "370303",  # 淄川区
    "370811",  # 任城区
    "370832",  # 梁山县
    "371402",  # 德城区
    "371502",  # 东昌府区
    "371522",  # 莘县
    "371323",  # 沂水县
    "371721",  # 曹县
)

PLATE_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# Care tags drawn by the generator: codes of the shipped taxonomy (data/default_tags.json);
# a code the installed taxonomy lacks is skipped when writing.
DISABILITY_TAGS: Final = (
    ("disabled_physical", 40),
    ("disabled_visual", 15),
    ("disabled_hearing", 15),
    ("disabled_mental", 10),
    ("disabled_intellectual", 8),
    ("disabled_multiple", 9),
    ("disabled_speech", 3),
)
TAG_CODES: Final = (
    "elderly_living_alone",
    "elderly_empty_nest",
    "elderly_disabled",
    "elderly_semi_disabled",
    "dibao_a",
    "dibao_b",
    "dibao_c",
    "tekun_dispersed",
    *(code for code, _weight in DISABILITY_TAGS),
    "veteran",
    "children_left_behind",
    "special_community_correction",
    "special_released_prisoner",
    "special_drug_user",
    "special_severe_mental",
)

CLOSED_PREFIXES: Final = (
    "锦绣", "玫瑰", "翠屏", "龙山", "云翠", "阳光", "幸福", "和谐", "书香", "东方", "金色",
    "滨湖", "锦水", "御景", "紫金", "世纪", "海棠", "丽景", "明珠", "天润", "榆山", "文昌",
    "府前", "凤凰", "泰和", "康居", "瑞祥", "晨曦", "怡景", "清华",
)  # fmt: skip
CLOSED_SUFFIXES: Final = (
    "花园", "家园", "名苑", "雅居", "华府", "小区", "嘉园", "新城", "御府", "公馆", "苑",
)  # fmt: skip
STREETS: Final = (
    "榆山路", "青龙路", "府前街", "东关街", "玫瑰路", "锦水路", "翠屏街", "黄河路", "中心街",
    "振兴街", "东风路", "建设路", "工业路", "胜利街",
)  # fmt: skip
WORK_UNITS: Final = (
    "供销社", "粮食局", "县医院", "一中", "纺织厂", "化肥厂", "棉麻公司", "交通局", "电业局",
    "水利局", "食品厂", "酒厂",
)  # fmt: skip
TRADES: Final = (
    "便民超市", "面馆", "水饺馆", "理发店", "五金店", "药房", "早餐店", "烟酒店", "快递驿站",
    "干洗店", "水果店", "家电维修", "诊所", "文具店", "花店",
)  # fmt: skip
SOCIAL_ORGANISATIONS: Final = (
    "志愿服务协会", "老年人协会", "文体协会", "慈善互助会", "书画协会", "邻里互助中心",
)  # fmt: skip
PROPERTY_NAMES: Final = ("鲁泰", "安居", "恒泰", "金盾", "嘉禾", "宏达", "泉城", "瑞丰", "正和")


def birth_date_for_age(rng: random.Random, age: int, on: date = REFERENCE_DATE) -> date:
    """A birth date at which a person is exactly ``age`` on ``on``."""
    latest = years_ago(on, age)
    earliest = years_ago(on, age + 1) + timedelta(days=1)
    return date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))


def derive_uses(
    houses: Iterable[House], residences: Iterable[Residence], on: date = REFERENCE_DATE
) -> None:
    """Set each house's use from the residences generated for it that are current on ``on``,
    by the rule the services and the importer apply (``rules.house_use``): a use set by hand
    (shops) stays, a tenant makes a house rented, an owner or family member owner-occupied,
    nobody vacant. The rows are unsaved, so houses are matched by object, not by id."""
    relations: dict[int, list[str]] = {}
    for residence in residences:
        if residence.moved_in <= on and (residence.moved_out is None or residence.moved_out > on):
            relations.setdefault(id(residence.house), []).append(residence.relation)
    for house in houses:
        house.use = rules.house_use(house.use, house.use_is_explicit, relations.get(id(house), ()))


def _decimal(value: float, places: int = 6) -> Decimal:
    return Decimal(f"{value:.{places}f}")


# ---------------------------------------------------------------- the plan of the county


@dataclass(frozen=True)
class CommunitySpec:
    """What the generator needs of a community: codes, names and the grids to place records."""

    code: str
    name: str
    address_prefix: str
    region_id: int
    grid_ids: tuple[int, ...]
    position: int  # in the county's fill order: fixes the community's character

    @property
    def is_village(self) -> bool:
        # Statistical codes 200–399 are villagers' committees, 001–199 residents' committees.
        return self.code[9] in "23"

    @property
    def placement_ids(self) -> tuple[int, ...]:
        return self.grid_ids or (self.region_id,)


def community_order() -> list[RegionNode]:
    """Communities in the order they fill: demo communities, urban communities of the two town
    subdistricts, their villages, then the rest of the county."""
    nodes = list(
        RegionNode.objects.filter(
            level=RegionLevel.COMMUNITY,
            retired_at__isnull=True,
            code__startswith=COUNTY_CODE,
        ).order_by("code")
    )

    def rank(node: RegionNode) -> tuple[int, str]:
        if node.code in FIRST_COMMUNITIES:
            return (0, str(FIRST_COMMUNITIES.index(node.code)))
        urban_subdistrict = node.code[:9] in FIRST_SUBDISTRICTS
        village = node.code[9] in "23"
        if urban_subdistrict and not village:
            return (1, node.code)
        if urban_subdistrict:
            return (2, node.code)
        return (3 if not village else 4, node.code)

    return sorted(nodes, key=rank)


def plan_scale(scale: int, seed: int, count: int) -> list[int]:
    """How many people each of the first communities of the fill order gets (sums to scale)."""
    if scale <= 0 or count <= 0:
        return []
    used = min(count, max(MIN_COMMUNITIES, math.ceil(scale / PEOPLE_PER_COMMUNITY)))
    rng = random.Random(f"{seed}:plan:{scale}")
    weights = [rng.uniform(0.75, 1.25) for _ in range(used)]
    total = sum(weights)
    shares = [scale * w / total for w in weights]
    targets = [int(s) for s in shares]
    # Largest remainders take the people the rounding left over, so the sum is exact.
    order = sorted(range(used), key=lambda i: shares[i] - targets[i], reverse=True)
    for i in order[: scale - sum(targets)]:
        targets[i] += 1
    return targets


def community_specs(nodes: list[RegionNode]) -> list[CommunitySpec]:
    ancestors = {
        node.code: node.name
        for node in RegionNode.objects.filter(
            code__in={n.code[:length] for n in nodes for length in (2, 4, 6, 9)}
        )
    }
    grids: dict[int, list[int]] = {}
    for grid_id, parent_id in (
        RegionNode.objects.filter(level=RegionLevel.GRID, retired_at__isnull=True, parent__in=nodes)
        .order_by("code")
        .values_list("pk", "parent_id")
    ):
        grids.setdefault(parent_id, []).append(grid_id)
    return [
        CommunitySpec(
            code=node.code,
            name=node.name,
            # As services.house_address writes it: province to community, grids left out.
            address_prefix="".join(ancestors.get(node.code[:n], "") for n in (2, 4, 6, 9))
            + node.name,
            region_id=node.pk,
            grid_ids=tuple(grids.get(node.pk, ())),
            position=position,
        )
        for position, node in enumerate(nodes)
    ]


@dataclass
class Taken:
    """Values that must be unique across the whole register (and against rows already there)."""

    id_numbers: set[str] = field(default_factory=set)
    id_indexes: set[str] = field(default_factory=set)
    plates: set[str] = field(default_factory=set)
    credit_codes: set[str] = field(default_factory=set)

    @classmethod
    def from_database(cls) -> Taken:
        return cls(
            id_indexes=set(
                Person.objects.exclude(id_number_index="").values_list("id_number_index", flat=True)
            ),
            plates=set(Vehicle.objects.values_list("plate", flat=True)),
            credit_codes=set(
                Organisation.objects.exclude(credit_code="").values_list("credit_code", flat=True)
            ),
        )

    def claim_id_number(self, number: str) -> bool:
        if number in self.id_numbers:
            return False
        if self.id_indexes and blind_index_for(Person, "id_number_index", number) in (
            self.id_indexes
        ):
            return False
        self.id_numbers.add(number)
        return True


# ---------------------------------------------------------------- community character


@dataclass(frozen=True)
class Character:
    """What makes one community differ from another."""

    aging: float  # weight multiplier of the elderly household kinds
    rented_share: float  # of occupied houses
    vacancy: float  # of residential houses
    gigabit: float
    cable_tv: float
    water_meter: float
    electricity_meter: float
    gas_meter: float
    cars_per_household: float
    dibao_share: float  # of owner households


def character_of(spec: CommunitySpec, rng: random.Random) -> Character:
    # Alternate well- and poorly-equipped communities, so the 70 % coverage line splits them.
    well_equipped = spec.position % 2 == 0
    if spec.position == 0:
        aging = 1.0
    elif spec.position == 1:
        aging = 1.55  # 锦东社区: an old community, above 30 % aged 60+
    elif rng.random() < 0.15:
        aging = rng.uniform(1.45, 1.75)
    else:
        aging = rng.uniform(0.7, 1.1)
    if spec.is_village:
        aging *= 1.15
        well_equipped = well_equipped and rng.random() < 0.5
    return Character(
        aging=aging,
        rented_share=rng.uniform(0.03, 0.08) if spec.is_village else rng.uniform(0.1, 0.24),
        vacancy=rng.uniform(0.05, 0.14),
        gigabit=rng.uniform(0.78, 0.94) if well_equipped else rng.uniform(0.42, 0.64),
        cable_tv=rng.uniform(0.74, 0.9) if well_equipped else rng.uniform(0.38, 0.62),
        water_meter=rng.uniform(0.35, 0.85),
        electricity_meter=rng.uniform(0.9, 0.99),
        gas_meter=rng.uniform(0.15, 0.7),
        cars_per_household=rng.uniform(0.3, 0.5) if spec.is_village else rng.uniform(0.45, 0.7),
        dibao_share=rng.uniform(0.02, 0.04) if spec.is_village else rng.uniform(0.008, 0.02),
    )


# ---------------------------------------------------------------- households


@dataclass
class Member:
    age: int
    gender: str
    head_relation: str
    surname: str


@dataclass
class HouseholdPlan:
    members: list[Member]
    tenants: bool
    registration: str
    shared: bool = False  # unrelated tenants sharing a flat

    @property
    def head(self) -> Member:
        return self.members[0]


def _surname(rng: random.Random) -> str:
    return rng.choice(synthetic.SURNAMES)


def _couple(rng: random.Random, low: int, high: int) -> list[Member]:
    husband = rng.randint(low, high)
    wife = max(low - 3, husband - rng.choice((0, 1, 2, 2, 3, 4, 5)))
    surname = _surname(rng)
    return [
        Member(husband, "M", HeadRelation.HEAD, surname),
        Member(wife, "F", HeadRelation.SPOUSE, _surname(rng)),
    ]


def _children(
    rng: random.Random, family: str, father_age: int, count: int, oldest: int
) -> list[Member]:
    top = max(0, min(oldest, father_age - 23))
    return [
        Member(rng.randint(0, top), rng.choice("MF"), HeadRelation.CHILD, family)
        for _ in range(count)
    ]


def _owner_household(rng: random.Random, aging: float) -> list[Member]:
    old = aging**1.5
    kinds = (
        ("elderly_alone", 0.10 * old),
        ("elderly_couple", 0.19 * old),
        ("widowed_with_child", 0.045 * old),
        ("young_single", 0.05),
        ("couple", 0.08),
        ("couple_one_child", 0.25),
        ("couple_two_children", 0.11),
        ("three_generations", 0.13 * aging),
        ("couple_adult_child", 0.09),
    )
    kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
    if kind == "elderly_alone":
        age = min(96, int(rng.triangular(63, 95, 76)))
        return [Member(age, "F" if rng.random() < 0.64 else "M", HeadRelation.HEAD, "")]
    if kind == "elderly_couple":
        return _couple(rng, 61, 88)
    if kind == "widowed_with_child":
        head = rng.randint(32, 55)
        family = _surname(rng)
        parent = min(96, head + rng.randint(25, 33))
        return [
            Member(head, rng.choice("MF"), HeadRelation.HEAD, family),
            Member(parent, "F" if rng.random() < 0.65 else "M", HeadRelation.PARENT, family),
        ]
    if kind == "young_single":
        return [Member(rng.randint(22, 40), rng.choice("MF"), HeadRelation.HEAD, "")]
    if kind == "couple":
        return _couple(rng, 24, 45)
    if kind == "couple_one_child":
        members = _couple(rng, 27, 56)
        return members + _children(rng, members[0].surname, members[0].age, 1, 25)
    if kind == "couple_two_children":
        members = _couple(rng, 30, 52)
        return members + _children(rng, members[0].surname, members[0].age, 2, 22)
    if kind == "three_generations":
        members = _couple(rng, 30, 48)
        family = members[0].surname
        members += _children(rng, family, members[0].age, rng.choice((1, 1, 2)), 17)
        grandfather = min(92, members[0].age + rng.randint(24, 32))
        if rng.random() < 0.55:
            members.append(Member(grandfather, "M", HeadRelation.PARENT, family))
        members.append(
            Member(
                min(94, grandfather - rng.randint(0, 4)), "F", HeadRelation.PARENT, _surname(rng)
            )
        )
        return members
    members = _couple(rng, 48, 68)
    child_age = rng.randint(18, min(34, members[0].age - 22))
    return [*members, Member(child_age, rng.choice("MF"), HeadRelation.CHILD, members[0].surname)]


def _tenant_household(rng: random.Random) -> tuple[list[Member], bool]:
    roll = rng.random()
    if roll < 0.4:
        return [Member(rng.randint(19, 40), rng.choice("MF"), HeadRelation.HEAD, "")], False
    if roll < 0.78:
        members = _couple(rng, 22, 42)
        if rng.random() < 0.45:
            members += _children(rng, members[0].surname, members[0].age, 1, 12)
        return members, False
    if roll < 0.95:
        count = rng.choice((2, 2, 3))
        return [
            Member(
                rng.randint(19, 35),
                rng.choice("MF"),
                HeadRelation.HEAD if i == 0 else HeadRelation.NONE,
                "",
            )
            for i in range(count)
        ], True
    return [Member(rng.randint(60, 78), rng.choice("MF"), HeadRelation.HEAD, "")], False


def plan_households(rng: random.Random, target: int, character: Character) -> list[HouseholdPlan]:
    """Households until exactly ``target`` people (the last one trimmed, its head kept)."""
    households: list[HouseholdPlan] = []
    people = 0
    tenant_share = character.rented_share * 0.95  # tenant households are a bit smaller
    while people < target:
        if rng.random() < tenant_share:
            members, shared = _tenant_household(rng)
            roll = rng.random()
            registration = (
                RegistrationType.FLOATING
                if roll < 0.76
                else RegistrationType.PERMANENT
                if roll < 0.96
                else RegistrationType.REGISTERED
            )
            plan = HouseholdPlan(members, tenants=True, registration=registration, shared=shared)
        else:
            members = _owner_household(rng, character.aging)
            registration = (
                RegistrationType.REGISTERED if rng.random() < 0.8 else RegistrationType.PERMANENT
            )
            plan = HouseholdPlan(members, tenants=False, registration=registration)
        del plan.members[target - people :]
        people += len(plan.members)
        households.append(plan)
    return households


# ---------------------------------------------------------------- places


@dataclass
class BuildingPlan:
    floors: int
    units: int
    per_floor: int
    residential_from: int = 1  # floor-1 shops of a street building start houses above them


def _height(rng: random.Random, closed: bool, village: bool) -> int:
    if village:
        return rng.choice((3, 4, 5, 5, 6, 6)) if rng.random() < 0.8 else rng.choice((7, 9, 11))
    if not closed:
        return rng.choice((4, 5, 6, 6, 6)) if rng.random() < 0.72 else rng.choice((7, 8, 9, 11))
    roll = rng.random()
    if roll < 0.3:
        return rng.choice((19, 22, 24, 26, 28, 30, 32, 33))
    if roll < 0.6:
        return rng.choice((12, 15, 16, 17, 18))
    if roll < 0.85:
        return rng.choice((7, 9, 11))
    return rng.choice((5, 6))


def _building_plan(rng: random.Random, floors: int) -> BuildingPlan:
    if floors >= 19:
        units, per_floor = rng.choice(((1, 4), (2, 2), (1, 3), (2, 3)))
    elif floors >= 7:
        units, per_floor = rng.choice((2, 3)), 2
    else:
        units, per_floor = rng.choice((2, 3, 3, 4)), 2
    return BuildingPlan(floors=floors, units=units, per_floor=per_floor)


def _capacity(plan: BuildingPlan) -> int:
    return (plan.floors - plan.residential_from + 1) * plan.units * plan.per_floor


# ---------------------------------------------------------------- one community, in memory


@dataclass
class CommunityLoad:
    """One community's rows, unsaved, with relations by object; written in dependency order."""

    spec: CommunitySpec
    target: int
    organisations: list[Organisation] = field(default_factory=list)
    compounds: list[Compound] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    houses: list[House] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    heads: list[Person] = field(default_factory=list)  # parallel to households
    people: list[Person] = field(default_factory=list)
    residences: list[Residence] = field(default_factory=list)
    rentals: list[Rental] = field(default_factory=list)
    rental_tenants: list[list[Person]] = field(default_factory=list)  # parallel to rentals
    vehicles: list[Vehicle] = field(default_factory=list)
    tags: list[tuple[Person, str]] = field(default_factory=list)  # (person, tag code)

    def counts(self) -> dict[str, int]:
        return {
            "organisations": len(self.organisations),
            "compounds": len(self.compounds),
            "buildings": len(self.buildings),
            "units": len(self.units),
            "houses": len(self.houses),
            "households": len(self.households),
            "people": len(self.people),
            "residences": len(self.residences),
            "rentals": len(self.rentals),
            "vehicles": len(self.vehicles),
            "tags": len(self.tags),
        }


class CommunityBuilder:
    def __init__(self, spec: CommunitySpec, target: int, seed: int, taken: Taken) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:{spec.code}:{target}")
        self.taken = taken
        self.character = character_of(spec, self.rng)
        self.load = CommunityLoad(spec=spec, target=target)
        self.centre = (
            COUNTY_CENTRE[0] + self.rng.uniform(-0.03, 0.03),
            COUNTY_CENTRE[1] + self.rng.uniform(-0.04, 0.04),
        )
        self.compound_names: set[str] = set()
        self.property_companies: list[Organisation] = []
        self.property_names: set[str] = set()
        self.address_codes: set[str] = set()

    # -- identities

    def address_code(self, address: str) -> str:
        """The code ``services.create_house`` would give the address (``rules.address_code``);
        the set only guards against two addresses of the community sharing a digest."""
        code = rules.address_code(self.spec.code, address, self.address_codes)
        self.address_codes.add(code)
        return code

    def credit_code(self, authority: str, category: str) -> str:
        while True:
            code = synthetic.make_credit_code(self.rng, COUNTY_CODE, authority, category)
            if code not in self.taken.credit_codes:
                self.taken.credit_codes.add(code)
                return code

    def id_number(self, prefix: str, birth_date: date, gender: str) -> str:
        while True:
            number = synthetic.make_id_number(self.rng, prefix, birth_date, gender)
            if self.taken.claim_id_number(number):
                return number

    def plate(self) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.12:  # new-energy plates: D or F and five digits
                plate = "鲁A" + rng.choice("DF") + "".join(rng.choices("0123456789", k=5))
            else:
                # Five characters, at most two of them letters (GB 36220 plates).
                body = [rng.choice("0123456789") for _ in range(5)]
                for position in rng.sample(range(5), rng.choice((0, 1, 1, 2, 2))):
                    body[position] = rng.choice(PLATE_LETTERS)
                plate = "鲁A" + "".join(body)
            if plate not in self.taken.plates:
                self.taken.plates.add(plate)
                return plate

    def organisation(
        self, name: str, kind: str, authority: str, category: str, address: str, region_id: int
    ) -> Organisation:
        organisation = Organisation(
            region_id=region_id,
            name=name,
            kind=kind,
            credit_code=self.credit_code(authority, category),
            address=address,
            contact_name=synthetic.make_chinese_name(self.rng),
            contact_phone=synthetic.make_mobile(self.rng),
        )
        self.load.organisations.append(organisation)
        return organisation

    # -- places

    def compound_name(self, closed: bool) -> str:
        rng = self.rng
        short = self.spec.name.removesuffix("社区").removesuffix("村")
        for attempt in range(50):
            if self.spec.is_village:
                name = rng.choice((f"{short}新村", f"{short}安置区", f"{short}幸福苑"))
            elif closed:
                name = rng.choice(CLOSED_PREFIXES) + rng.choice(CLOSED_SUFFIXES)
            elif rng.random() < 0.5:
                name = f"{rng.choice(STREETS)}{rng.randint(1, 120)}号院"
            else:
                name = rng.choice(WORK_UNITS) + rng.choice(("宿舍", "家属院"))
            if attempt > 5:
                name += ("二期", "三期", "四期", "北区", "南区", "东区", "西区")[attempt % 7]
            if name not in self.compound_names:
                self.compound_names.add(name)
                return name
        name = f"{short}第{len(self.compound_names) + 1}小区"
        self.compound_names.add(name)
        return name

    def new_compound(self, closed: bool) -> Compound:
        rng = self.rng
        region_id = self.spec.placement_ids[len(self.load.compounds) % len(self.spec.placement_ids)]
        name = self.compound_name(closed)
        company = None
        if closed:
            unused = [n for n in PROPERTY_NAMES if n not in self.property_names]
            if unused and (not self.property_companies or rng.random() < 0.4):
                brand = rng.choice(unused)
                self.property_names.add(brand)
                short = self.spec.name.removesuffix("社区").removesuffix("村")
                company = self.organisation(
                    f"平阴县{short}{brand}物业服务有限公司",
                    OrganisationKind.PROPERTY,
                    "9",
                    "1",
                    f"{self.spec.address_prefix}{name}物业服务中心",
                    self.spec.region_id,
                )
                self.property_companies.append(company)
            else:
                company = rng.choice(self.property_companies)
        compound = Compound(
            region_id=region_id,
            name=name,
            kind=CompoundKind.CLOSED if closed else CompoundKind.OPEN,
            property_company=company,
            address=f"{self.spec.address_prefix}{name}",
            latitude=_decimal(self.centre[0] + rng.uniform(-0.004, 0.004)),
            longitude=_decimal(self.centre[1] + rng.uniform(-0.005, 0.005)),
        )
        self.load.compounds.append(compound)
        return compound

    def plan_places(self, households: int) -> list[tuple[Compound, Building, BuildingPlan]]:
        """Compounds and buildings until there are enough residential houses, vacancy included."""
        rng = self.rng
        needed = math.ceil(households / (1 - self.character.vacancy))
        planned: list[tuple[Compound, Building, BuildingPlan]] = []
        capacity = 0
        while capacity < needed:
            # Older communities keep more open compounds of walk-ups from the 1980s and 90s.
            closed_share = 0.75 - 0.25 * (self.character.aging - 1)
            closed = not self.spec.is_village and (
                rng.random() < closed_share if planned else self.spec.position % 3 != 1
            )
            compound = self.new_compound(closed)
            building_count = rng.randint(3, 9) if closed else rng.randint(2, 7)
            for number in range(1, building_count + 1):
                if capacity >= needed:
                    break
                if self.spec.position == 0 and not planned:
                    floors = TOWER_FLOORS  # the floor plan benchmark's tower
                else:
                    floors = _height(rng, closed, self.spec.is_village)
                plan = _building_plan(rng, floors)
                if not closed and number == 1 and floors <= 6:
                    plan.residential_from = 2  # a street-facing building with shops below
                building = Building(
                    region_id=compound.region_id,
                    compound=compound,
                    number=f"{number}号楼",
                    floors_above=floors,
                    floors_below=(rng.choice((1, 2)) if floors >= 12 else rng.choice((0, 0, 1))),
                    is_residential=True,
                    has_elevator=floors >= 7 and (closed or rng.random() < 0.4),
                    latitude=_decimal(float(compound.latitude or 0) + rng.uniform(-0.0008, 0.0008)),
                    longitude=_decimal(float(compound.longitude or 0) + rng.uniform(-0.001, 0.001)),
                )
                self.load.buildings.append(building)
                planned.append((compound, building, plan))
                capacity += _capacity(plan)
            buildings = sum(1 for item in planned if item[0] is compound)
            compound.area_m2 = _decimal(max(1, buildings) * rng.uniform(1800, 3600), 2)
        return planned

    def build_houses(
        self, planned: list[tuple[Compound, Building, BuildingPlan]]
    ) -> tuple[list[House], list[House]]:
        """All houses; returns (residential, shops)."""
        rng = self.rng
        c = self.character
        residential: list[House] = []
        shops: list[House] = []
        for compound, building, plan in planned:
            # Newer, taller buildings are better equipped; old walk-ups less so.
            boost = 1.08 if plan.floors >= 12 else 0.92 if plan.floors <= 6 else 1.0
            for unit_number in range(1, plan.units + 1):
                unit = Unit(
                    region_id=building.region_id, building=building, number=f"{unit_number}单元"
                )
                self.load.units.append(unit)
                for floor in range(1, plan.floors + 1):
                    for position in range(1, plan.per_floor + 1):
                        number = f"{floor}{position:02d}"
                        shop = floor < plan.residential_from
                        address = rules.standard_address(
                            self.spec.address_prefix,
                            compound.name,
                            building.number,
                            unit.number,
                            number,
                        )
                        area = rng.uniform(50, 110) if plan.floors <= 6 else rng.uniform(70, 140)
                        house = House(
                            region_id=building.region_id,
                            building=building,
                            unit=unit,
                            number=number,
                            floor=floor,
                            area_m2=_decimal(area, 2),
                            use=HouseUse.COMMERCIAL if shop else HouseUse.VACANT,
                            use_is_explicit=shop,
                            has_gigabit=rng.random() < min(0.99, c.gigabit * boost),
                            has_cable_tv=rng.random() < min(0.99, c.cable_tv * boost),
                            has_remote_water_meter=rng.random() < c.water_meter,
                            has_remote_electricity_meter=rng.random() < c.electricity_meter,
                            has_remote_gas_meter=rng.random() < c.gas_meter * boost,
                            address=address,
                            address_code=self.address_code(address),
                        )
                        self.load.houses.append(house)
                        (shops if shop else residential).append(house)
        return residential, shops

    def open_shops(self, shops: list[House]) -> None:
        rng = self.rng
        for house in shops:
            trade = rng.choice(TRADES)
            name = f"{_surname(rng)}记{trade}" if rng.random() < 0.5 else f"平阴县{trade}"
            self.organisation(
                f"{name}（{house.building.compound.name}店）",
                OrganisationKind.MERCHANT,
                "9",
                "2" if rng.random() < 0.75 else "1",  # mostly 个体工商户
                house.address,
                house.region_id,
            )

    def community_organisations(self) -> None:
        rng = self.rng
        spec = self.spec
        committee = "支部委员会" if spec.is_village else "委员会"
        self.organisation(
            f"中共平阴县{spec.name}{committee}",
            OrganisationKind.PARTY,
            "Y",
            "1",
            f"{spec.address_prefix}党群服务中心",
            spec.region_id,
        )
        for suffix in rng.sample(SOCIAL_ORGANISATIONS, rng.randint(1, 3)):
            self.organisation(
                f"平阴县{spec.name}{suffix}",
                OrganisationKind.SOCIAL,
                "5",
                rng.choice("12"),
                f"{spec.address_prefix}党群服务中心",
                spec.region_id,
            )

    # -- people

    def person(self, member: Member, household: Household, plan: HouseholdPlan) -> Person:
        rng = self.rng
        birth = birth_date_for_age(rng, member.age)
        registration = plan.registration
        if registration == RegistrationType.FLOATING:
            prefix = rng.choice(NEAR_PREFIXES if rng.random() < 0.6 else FAR_PREFIXES)
        elif registration == RegistrationType.REGISTERED or member.age < 16:
            prefix = LOCAL_PREFIX if rng.random() < 0.9 else rng.choice(NEAR_PREFIXES)
        else:
            prefix = LOCAL_PREFIX if rng.random() < 0.5 else rng.choice(NEAR_PREFIXES)
        surname = member.surname or _surname(rng)
        given = synthetic.make_chinese_name(rng)[1:]
        political = _political_status(rng, member.age)
        has_phone = member.age >= 14 and rng.random() < (0.6 if member.age >= 80 else 0.96)
        return Person(
            region_id=household.region_id,
            name=surname + given,
            id_number=self.id_number(prefix, birth, member.gender),
            gender=member.gender,
            birth_date=birth,
            phone=synthetic.make_mobile(rng) if has_phone else "",
            registration_type=registration,
            ethnicity=_ethnicity(rng),
            education=_education(rng, member.age),
            employment=_employment(rng, member.age, member.gender, self.spec.is_village),
            political_status=political,
            is_party_member=political
            in (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY),
            household=household,
            head_relation=member.head_relation,
        )

    def settle(self, plans: list[HouseholdPlan], houses: list[House]) -> None:
        """People into households into houses; house use from the residences, rentals for
        tenants, vehicles and care tags."""
        rng = self.rng
        load = self.load
        for index, (plan, house) in enumerate(zip(plans, houses, strict=False)):
            household = Household(
                region_id=house.region_id,
                number=f"{self.spec.code[6:]}{index + 1:05d}",
                house=house,
            )
            load.households.append(household)
            people = [self.person(member, household, plan) for member in plan.members]
            load.heads.append(people[0])
            load.people.extend(people)
            if plan.tenants:
                moved_in = REFERENCE_DATE - timedelta(days=rng.randint(20, 900))
            else:
                head_adult = years_ago(REFERENCE_DATE, max(0, plan.head.age - 20))
                earliest = max(head_adult, date(1992, 1, 1))
                latest = REFERENCE_DATE - timedelta(days=30)
                earliest = min(earliest, latest)
                moved_in = date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))
            for position, person in enumerate(people):
                if plan.tenants:
                    relation = ResidenceRelation.TENANT
                elif position == 0 or (position == 1 and rng.random() < 0.5):
                    relation = ResidenceRelation.OWNER  # the head, and often the spouse too
                else:
                    relation = ResidenceRelation.FAMILY
                assert person.birth_date is not None
                load.residences.append(
                    Residence(
                        region_id=house.region_id,
                        person=person,
                        house=house,
                        relation=relation,
                        is_primary=True,
                        moved_in=max(moved_in, person.birth_date),
                    )
                )
            if plan.tenants:
                self.rent(house, people, plan, moved_in)
            self.cars(plan, people, house)
            self.care_tags(plan, people)

    def rent(self, house: House, tenants: list[Person], plan: HouseholdPlan, start: date) -> None:
        rng = self.rng
        area = float(house.area_m2 or 80)
        rent = min(2500, max(600, round(area * rng.uniform(9, 20) / 50) * 50))
        if plan.shared:
            mode = RentalMode.SHARED if rng.random() < 0.6 else RentalMode.ROOM
        else:
            mode = RentalMode.WHOLE
        channel = rng.choices(
            (
                RentalChannel.SELF,
                RentalChannel.AGENCY,
                RentalChannel.PLATFORM,
                RentalChannel.EMPLOYER,
                RentalChannel.OTHER,
            ),
            weights=(45, 30, 15, 6, 4),
        )[0]
        end: date | None = None
        if rng.random() < 0.65:
            years = max(1, math.ceil(((REFERENCE_DATE - start).days + 30) / 365))
            end = years_ago(start, -years)
        self.load.rentals.append(
            Rental(
                region_id=house.region_id,
                house=house,
                mode=mode,
                channel=channel,
                monthly_rent=Decimal(rent),
                start=start,
                end=end,
            )
        )
        self.load.rental_tenants.append(tenants)

    def cars(self, plan: HouseholdPlan, people: list[Person], house: House) -> None:
        rng = self.rng
        drivers = [p for p, m in zip(people, plan.members, strict=True) if 20 <= m.age <= 75]
        if not drivers:
            return
        rate = self.character.cars_per_household * (0.35 if plan.tenants else 1.0)
        count = 0
        if rng.random() < rate:
            count = 2 if rng.random() < 0.15 else 1
        compound = house.building.compound
        for number in range(count):
            owner = drivers[min(number, len(drivers) - 1)]
            self.load.vehicles.append(
                Vehicle(
                    region_id=house.region_id,
                    plate=self.plate(),
                    owner=owner,
                    compound=compound,
                    description=rng.choice(("小型轿车", "SUV", "新能源轿车", "面包车", "小型轿车")),
                )
            )

    def care_tags(self, plan: HouseholdPlan, people: list[Person]) -> None:
        rng = self.rng
        tags = self.load.tags
        ages = [m.age for m in plan.members]
        if not plan.tenants and len(people) == 1 and ages[0] >= 60:
            tags.append((people[0], "elderly_living_alone"))
            if rng.random() < 0.03:
                tags.append((people[0], "tekun_dispersed"))
        elif not plan.tenants and len(people) == 2 and min(ages) >= 60:
            tags.extend((person, "elderly_empty_nest") for person in people)
        if not plan.tenants and rng.random() < self.character.dibao_share:
            level = rng.choices(("dibao_a", "dibao_b", "dibao_c"), weights=(2, 3, 5))[0]
            tags.extend((person, level) for person in people)
        codes = [code for code, _weight in DISABILITY_TAGS]
        weights = [weight for _code, weight in DISABILITY_TAGS]
        for person, member in zip(people, plan.members, strict=True):
            if rng.random() < (0.045 if member.age >= 60 else 0.012):
                tags.append((person, rng.choices(codes, weights=weights)[0]))
            if member.age >= 80 and rng.random() < 0.06:
                tags.append(
                    (person, "elderly_disabled" if rng.random() < 0.4 else "elderly_semi_disabled")
                )
            if member.gender == "M" and member.age >= 40 and rng.random() < 0.04:
                tags.append((person, "veteran"))
            if member.age >= 18:
                roll = rng.random()
                if roll < 0.0005:
                    tags.append((person, "special_community_correction"))
                elif roll < 0.0015:
                    tags.append((person, "special_released_prisoner"))
                elif roll < 0.002:
                    tags.append((person, "special_drug_user"))
                elif roll < 0.004:
                    tags.append((person, "special_severe_mental"))
            if (
                self.spec.is_village
                and member.age < 16
                and len(people) > 1
                and all(m.age >= 50 or m.age < 16 for m in plan.members)
            ):
                tags.append((person, "children_left_behind"))

    def build(self) -> CommunityLoad:
        plans = plan_households(self.rng, self.load.target, self.character)
        planned = self.plan_places(len(plans))
        residential, shops = self.build_houses(planned)
        self.community_organisations()
        self.open_shops(shops)
        # Who lives where is a draw over all the residential houses; the rest stay vacant.
        occupied = self.rng.sample(residential, len(plans))
        self.settle(plans, occupied)
        derive_uses(self.load.houses, self.load.residences)
        return self.load


def _ethnicity(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.988:
        return "汉族"
    if roll < 0.997:
        return "回族"
    return "满族" if roll < 0.999 else "蒙古族"


def _education(rng: random.Random, age: int) -> str:
    if age < 7:
        return Education.NONE
    if age <= 12:
        return Education.PRIMARY
    if age <= 15:
        return Education.JUNIOR
    if age <= 18:
        return Education.SENIOR
    if age >= 66:
        weights = (12, 35, 33, 14, 4, 2, 0, 0)
    elif age >= 46:
        weights = (2, 14, 40, 25, 11, 7, 1, 0)
    else:
        weights = (0, 2, 18, 25, 25, 25, 5, 0)
    return rng.choices(
        (
            Education.NONE,
            Education.PRIMARY,
            Education.JUNIOR,
            Education.SENIOR,
            Education.COLLEGE,
            Education.BACHELOR,
            Education.POSTGRADUATE,
            Education.UNKNOWN,
        ),
        weights=weights,
    )[0]


def _employment(rng: random.Random, age: int, gender: str, village: bool) -> str:
    if age < 6:
        return Employment.UNKNOWN
    if age <= 18 or (age <= 22 and rng.random() < 0.55):
        return Employment.STUDENT
    retirement = 60 if gender == "M" else 55
    if age >= retirement:
        weights = (3, 2, 0, 70, 0, 20 if village else 8, 2, 3)
    else:
        weights = (55, 16, 6, 0, 0, 22 if village else 5, 4, 6)
    return rng.choices(
        (
            Employment.EMPLOYED,
            Employment.SELF_EMPLOYED,
            Employment.UNEMPLOYED,
            Employment.RETIRED,
            Employment.STUDENT,
            Employment.FARMER,
            Employment.OTHER,
            Employment.UNKNOWN,
        ),
        weights=weights,
    )[0]


def _political_status(rng: random.Random, age: int) -> str:
    if age < 14:
        return PoliticalStatus.MASSES
    roll = rng.random()
    if age >= 18:
        member_share = 0.05 + min(age, 80) / 1000  # older cohorts hold more members
        if roll < member_share:
            return PoliticalStatus.CPC_MEMBER
        if roll < member_share + 0.003:
            return PoliticalStatus.CPC_PROBATIONARY
        if roll < member_share + 0.005:
            return PoliticalStatus.DEMOCRATIC_PARTY
    if age <= 28 and roll > 0.7:
        return PoliticalStatus.CYL_MEMBER
    return PoliticalStatus.MASSES


def build_community(spec: CommunitySpec, target: int, seed: int, taken: Taken) -> CommunityLoad:
    """One community's register, in memory: the same arguments give the same rows."""
    return CommunityBuilder(spec, target, seed, taken).build()


# ---------------------------------------------------------------- writing


def resolve_tags() -> dict[str, Tag]:
    """The tags the generator draws, from the installed taxonomy (the default one is synced)."""
    from linli.registry import services

    services.sync_default_tags()
    return {tag.code: tag for tag in Tag.objects.filter(is_active=True, code__in=TAG_CODES)}


def community_is_loaded(spec: CommunitySpec) -> bool:
    prefix = {"region__code__startswith": spec.code}
    return Person.objects.filter(**prefix).exists() or Compound.objects.filter(**prefix).exists()


def write_community(load: CommunityLoad, tags: dict[str, Tag], note: str) -> dict[str, int]:
    """Insert one community's rows in one transaction with one summarising audit entry."""
    counts = load.counts()
    with transaction.atomic():
        Organisation.objects.bulk_create(load.organisations, batch_size=BATCH_SIZE)
        Compound.objects.bulk_create(load.compounds, batch_size=BATCH_SIZE)
        Building.objects.bulk_create(load.buildings, batch_size=BATCH_SIZE)
        Unit.objects.bulk_create(load.units, batch_size=BATCH_SIZE)
        House.objects.bulk_create(load.houses, batch_size=BATCH_SIZE)
        Household.objects.bulk_create(load.households, batch_size=BATCH_SIZE)
        Person.objects.bulk_create(load.people, batch_size=BATCH_SIZE)
        # Households and heads point at each other: the heads are set once both exist.
        household_ids = [household.pk for household in load.households]
        for start in range(0, len(household_ids), 5_000):
            Household.objects.filter(pk__in=household_ids[start : start + 5_000]).update(
                head=Subquery(
                    Person.objects.filter(
                        household_id=OuterRef("pk"), head_relation=HeadRelation.HEAD
                    )
                    .order_by("pk")
                    .values("pk")[:1]
                )
            )
        Residence.objects.bulk_create(load.residences, batch_size=BATCH_SIZE)
        Rental.objects.bulk_create(load.rentals, batch_size=BATCH_SIZE)
        through = Rental.tenants.through
        Rental.tenants.through.objects.bulk_create(
            [
                through(rental_id=rental.pk, person_id=person.pk)
                for rental, tenants in zip(load.rentals, load.rental_tenants, strict=True)
                for person in tenants
            ],
            batch_size=BATCH_SIZE,
        )
        Vehicle.objects.bulk_create(load.vehicles, batch_size=BATCH_SIZE)
        now = timezone.now()
        links = [
            PersonTag(person_id=person.pk, tag=tags[code], tagged_at=now)
            for person, code in load.tags
            if code in tags
        ]
        PersonTag.objects.bulk_create(links, batch_size=BATCH_SIZE)
        counts["tags"] = len(links)
        audit.record(
            AuditAction.CREATE,
            object_type="registry.person",
            object_repr=f"{len(load.people)} synthetic people",
            region_code=load.spec.code,
            actor_name="system",
            changes={key: str(value) for key, value in counts.items()},
            note=note,
        )
    return counts


@dataclass
class LoadSummary:
    scale: int
    seed: int
    communities: int = 0
    loaded: int = 0
    skipped: int = 0
    seconds: float = 0.0
    tags_missing: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def load_county(
    scale: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> LoadSummary:
    """Fill the county's communities with ``scale`` synthetic people (idempotent)."""
    started = time.perf_counter()
    summary = LoadSummary(scale=scale, seed=seed)
    nodes = community_order()
    targets = plan_scale(scale, seed, len(nodes))
    specs = community_specs(nodes[: len(targets)])
    summary.communities = len(specs)
    if not specs:
        return summary
    pending = [(spec, target) for spec, target in zip(specs, targets, strict=True)]
    pending = [(spec, target) for spec, target in pending if not community_is_loaded(spec)]
    summary.skipped = len(specs) - len(pending)
    if not pending:
        summary.seconds = time.perf_counter() - started
        return summary
    tags = resolve_tags()
    summary.tags_missing = sorted(set(TAG_CODES) - set(tags))
    taken = Taken.from_database() if summary.skipped or Person.objects.exists() else Taken()
    note = f"linli demo --scale {scale} --seed {seed}: synthetic data, one entry per community"
    done_people = 0
    for spec, target in pending:
        load = build_community(spec, target, seed, taken)
        counts = write_community(load, tags, note)
        for key, value in counts.items():
            summary.counts[key] = summary.counts.get(key, 0) + value
        summary.loaded += 1
        done_people += target
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(
                f"{spec.name} {spec.code}: {target} people ({done_people}/{scale}, {elapsed:.0f} s)"
            )
    if summary.loaded:
        from linli.registry.services import register_changed

        register_changed()  # cached overview counts are stale
    summary.seconds = time.perf_counter() - started
    return summary
