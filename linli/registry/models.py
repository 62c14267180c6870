"""The register of people, places, organisations and things (人地物组织).

Every record hangs on a region node (a community or one of its grids) and is read through the
access gate (``Model.objects.visible_to(user)``). Records are retired, never deleted, so history
and references stay whole. Ages are derived at the query date, never stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.registry.choices import (
    AGE_BANDS,
    ELDERLY_AGE,
    CompoundKind,
    Education,
    Employment,
    Gender,
    HeadRelation,
    HouseUse,
    ImportKind,
    ImportStatus,
    OrganisationKind,
    PoliticalStatus,
    RegistrationType,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)
from linli.utilities.fields import BlindIndexField, EncryptedCharField, PersonalCharField
from linli.utilities.masking import mask_name
from linli.utilities.scope import ScopedQuerySet


def years_ago(on: date, years: int) -> date:
    """The date ``years`` before ``on``; 29 February falls back to the 28th."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return on.replace(year=on.year - years, day=28)


def age_on(birth_date: date | None, on: date | None = None) -> int | None:
    if birth_date is None:
        return None
    on = on or timezone.localdate()
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def age_band(age: int | None) -> str:
    if age is None:
        return ""
    for label, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return ""


def _normalise_id_number(value: str) -> str:
    return value.strip().upper()


def _normalise_phone(value: str) -> str:
    from linli.utilities.validators import CodeError, normalize_mobile

    try:
        return normalize_mobile(value)
    except CodeError:
        return value.strip()


class RegisterQuerySet(ScopedQuerySet):
    def active(self) -> Any:
        return self.filter(retired_at__isnull=True)

    def retired(self) -> Any:
        return self.filter(retired_at__isnull=False)


class RegisterModel(models.Model):
    region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    objects = RegisterQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class Organisation(RegisterModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = EncryptedCharField(_("contact phone"), blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~Q(credit_code=""),
                name="registry_organisation_unique_credit_code",
            )
        ]
        permissions = [
            ("retire_organisation", "Can retire an organisation"),
            ("export_organisation", "Can export organisations"),
            ("import_organisation", "Can import organisations"),
        ]

    def __str__(self) -> str:
        return self.name


class Compound(RegisterModel):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=10, choices=CompoundKind.choices, default=CompoundKind.CLOSED
    )
    property_company = models.ForeignKey(
        Organisation,
        verbose_name=_("property company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="managed_compounds",
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    area_m2 = models.DecimalField(
        _("area (m²)"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("compound")
        verbose_name_plural = _("compounds")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "name"],
                condition=Q(retired_at__isnull=True),
                name="registry_compound_unique_name_in_region",
            )
        ]
        permissions = [
            ("retire_compound", "Can retire a compound"),
            ("export_compound", "Can export compounds"),
            ("import_compound", "Can import compounds, buildings and houses"),
        ]

    def __str__(self) -> str:
        return self.name


class Building(RegisterModel):
    compound = models.ForeignKey(
        Compound, verbose_name=_("compound"), on_delete=models.PROTECT, related_name="buildings"
    )
    number = models.CharField(_("building number"), max_length=20)
    floors_above = models.PositiveSmallIntegerField(_("floors above ground"), default=1)
    floors_below = models.PositiveSmallIntegerField(_("floors below ground"), default=0)
    is_residential = models.BooleanField(_("residential"), default=True)
    has_elevator = models.BooleanField(_("elevator"), default=False)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["compound", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["compound", "number"],
                condition=Q(retired_at__isnull=True),
                name="registry_building_unique_number",
            )
        ]
        permissions = [
            ("retire_building", "Can retire a building"),
            ("export_building", "Can export buildings"),
        ]

    def __str__(self) -> str:
        return f"{self.compound.name}{self.number}"


class Unit(RegisterModel):
    building = models.ForeignKey(
        Building, verbose_name=_("building"), on_delete=models.PROTECT, related_name="units"
    )
    number = models.CharField(_("unit number"), max_length=20)

    class Meta:
        verbose_name = _("building unit")
        verbose_name_plural = _("units")
        ordering = ["building", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["building", "number"],
                condition=Q(retired_at__isnull=True),
                name="registry_unit_unique_number",
            )
        ]
        permissions = [
            ("retire_unit", "Can retire a unit"),
            ("export_unit", "Can export units"),
        ]

    def __str__(self) -> str:
        return f"{self.building}{self.number}"


class HouseQuerySet(RegisterQuerySet):
    def owner_occupied(self) -> Any:
        return self.filter(use=HouseUse.OWNER_OCCUPIED)

    def rented(self) -> Any:
        return self.filter(use=HouseUse.RENTED)

    def vacant(self) -> Any:
        return self.filter(use=HouseUse.VACANT)


class House(RegisterModel):
    building = models.ForeignKey(
        Building, verbose_name=_("building"), on_delete=models.PROTECT, related_name="houses"
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("building unit"), on_delete=models.PROTECT, related_name="houses"
    )
    number = models.CharField(_("house number"), max_length=20)
    floor = models.SmallIntegerField(_("floor"))
    area_m2 = models.DecimalField(
        _("area (m²)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    use = models.CharField(
        _("use"), max_length=20, choices=HouseUse.choices, default=HouseUse.VACANT
    )
    # Set when a worker fixes the use by hand (e.g. commercial); then residences do not move it.
    use_is_explicit = models.BooleanField(_("use set by hand"), default=False)
    has_gigabit = models.BooleanField(_("gigabit fibre"), default=False)
    has_cable_tv = models.BooleanField(_("cable TV or IPTV"), default=False)
    has_remote_water_meter = models.BooleanField(_("remote water meter"), default=False)
    has_remote_electricity_meter = models.BooleanField(_("remote electricity meter"), default=False)
    has_remote_gas_meter = models.BooleanField(_("remote gas meter"), default=False)
    address = models.CharField(_("standard address"), max_length=200)
    address_code = models.CharField(_("standard address code"), max_length=32, unique=True)

    objects = HouseQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        ordering = ["building", "unit", "floor", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "number"],
                condition=Q(retired_at__isnull=True),
                name="registry_house_unique_number",
            )
        ]
        indexes = [
            models.Index(fields=["building", "floor"]),
            models.Index(fields=["region", "use"]),
        ]
        permissions = [
            ("retire_house", "Can retire a house"),
            ("export_house", "Can export houses"),
        ]

    def __str__(self) -> str:
        return self.address


class Household(RegisterModel):
    number = models.CharField(_("household number"), max_length=30)
    house = models.ForeignKey(
        House,
        verbose_name=_("house"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="households",
    )
    head = models.ForeignKey(
        "Person",
        verbose_name=_("head of household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "number"], name="registry_household_unique_number"
            )
        ]
        permissions = [
            ("retire_household", "Can retire a household"),
            ("export_household", "Can export households"),
        ]

    def __str__(self) -> str:
        return self.number


class PersonQuerySet(RegisterQuerySet):
    def aged_at_least(self, years: int, on: date | None = None) -> Any:
        return self.filter(birth_date__lte=years_ago(on or timezone.localdate(), years))

    def elderly(self, on: date | None = None) -> Any:
        return self.aged_at_least(ELDERLY_AGE, on)

    def in_age_band(self, low: int, high: int | None, on: date | None = None) -> Any:
        on = on or timezone.localdate()
        queryset = self.filter(birth_date__lte=years_ago(on, low))
        if high is not None:
            # Younger than high + 1 years: born after the date high + 1 years ago.
            queryset = queryset.filter(birth_date__gt=years_ago(on, high + 1))
        return queryset

    def floating(self) -> Any:
        return self.filter(registration_type=RegistrationType.FLOATING)


class Person(RegisterModel):
    # Personal fields: the name stays searchable but is masked on screen; the ID number and
    # phone are stored only as SM4 ciphertext with HMAC-SM3 blind indexes for exact search.
    name = PersonalCharField(_("full name"), max_length=50)
    id_number = EncryptedCharField(_("ID number"), blank=True)
    # Indexed in Meta.indexes: db_index would add a LIKE index on PostgreSQL too, which no
    # query uses and every insert pays for.
    id_number_index = BlindIndexField(
        source="id_number", normalizer=_normalise_id_number, db_index=False
    )
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, db_index=True)
    phone = EncryptedCharField(_("mobile phone"), blank=True)
    phone_index = BlindIndexField(source="phone", normalizer=_normalise_phone, db_index=False)
    registration_type = models.CharField(
        _("registration type"),
        max_length=12,
        choices=RegistrationType.choices,
        default=RegistrationType.PERMANENT,
    )
    ethnicity = models.CharField(_("ethnicity"), max_length=20, default="汉族", blank=True)
    education = models.CharField(
        _("education"), max_length=15, choices=Education.choices, default=Education.UNKNOWN
    )
    employment = models.CharField(
        _("employment"), max_length=15, choices=Employment.choices, default=Employment.UNKNOWN
    )
    political_status = models.CharField(
        _("political status"),
        max_length=20,
        choices=PoliticalStatus.choices,
        default=PoliticalStatus.MASSES,
    )
    is_party_member = models.BooleanField(_("party member"), default=False)
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    head_relation = models.CharField(
        _("relation to the head of household"),
        max_length=15,
        choices=HeadRelation.choices,
        blank=True,
    )

    objects = PersonQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_index"],
                condition=~Q(id_number_index=""),
                name="registry_person_unique_id_number",
            )
        ]
        indexes = [
            # Region + type + birth date: a community's list filtered by type and age band
            # reads only its own rows (a bare birth_date range spans the whole county).
            models.Index(fields=["region", "registration_type", "birth_date"]),
            models.Index(fields=["name"]),
            # Exact search by ID number and phone (the blind indexes), equality only.
            models.Index(fields=["id_number_index"], name="registry_person_id_index"),
            models.Index(fields=["phone_index"], name="registry_person_phone_index"),
        ]
        permissions = [
            ("retire_person", "Can retire a person"),
            ("export_person", "Can export people"),
            ("import_person", "Can import people"),
            ("reveal_person", "Can reveal a person's personal data"),
            ("tag_person", "Can tag people"),
        ]

    def __str__(self) -> str:
        # Masked: whatever renders a person by accident (the audit trail's object column, an
        # error message, a log line) shows 张*, never the full name.
        return mask_name(self.name)

    def age(self, on: date | None = None) -> int | None:
        return age_on(self.birth_date, on)

    def age_band(self, on: date | None = None) -> str:
        return age_band(self.age(on))

    def is_elderly(self, on: date | None = None) -> bool:
        age = self.age(on)
        return age is not None and age >= ELDERLY_AGE


class ResidenceQuerySet(RegisterQuerySet):
    def current(self, on: date | None = None) -> Any:
        on = on or timezone.localdate()
        return self.filter(moved_in__lte=on).filter(Q(moved_out__isnull=True) | Q(moved_out__gt=on))


class Residence(RegisterModel):
    """A person's link to a house over time (人房关联)."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="residences"
    )
    house = models.ForeignKey(
        House, verbose_name=_("house"), on_delete=models.PROTECT, related_name="residences"
    )
    relation = models.CharField(_("relation"), max_length=10, choices=ResidenceRelation.choices)
    is_primary = models.BooleanField(_("primary residence"), default=True)
    moved_in = models.DateField(_("moved in"))
    moved_out = models.DateField(_("moved out"), null=True, blank=True)

    objects = ResidenceQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("residence")
        verbose_name_plural = _("residences")
        ordering = ["-moved_in", "-id"]
        constraints = [
            # At most one current primary residence per person, enforced by the database too.
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(is_primary=True, moved_out__isnull=True, retired_at__isnull=True),
                name="registry_residence_one_current_primary",
            ),
            models.CheckConstraint(
                condition=Q(moved_out__isnull=True) | Q(moved_out__gte=models.F("moved_in")),
                name="registry_residence_out_after_in",
            ),
        ]
        indexes = [models.Index(fields=["house", "moved_out"])]
        permissions = [
            ("retire_residence", "Can retire a residence"),
            ("export_residence", "Can export residences"),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.house}"


class Vehicle(RegisterModel):
    plate = models.CharField(_("plate number"), max_length=10)
    owner = models.ForeignKey(
        Person,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vehicles",
    )
    compound = models.ForeignKey(
        Compound,
        verbose_name=_("compound"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vehicles",
    )
    description = models.CharField(_("description"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ["plate"]
        constraints = [
            models.UniqueConstraint(
                fields=["plate"],
                condition=Q(retired_at__isnull=True),
                name="registry_vehicle_unique_plate",
            )
        ]
        permissions = [
            ("retire_vehicle", "Can retire a vehicle"),
            ("export_vehicle", "Can export vehicles"),
            ("import_vehicle", "Can import vehicles"),
        ]

    def __str__(self) -> str:
        return self.plate


class Rental(RegisterModel):
    house = models.ForeignKey(
        House, verbose_name=_("house"), on_delete=models.PROTECT, related_name="rentals"
    )
    tenants = models.ManyToManyField(Person, verbose_name=_("tenants"), related_name="rentals")
    mode = models.CharField(_("rental mode"), max_length=10, choices=RentalMode.choices)
    channel = models.CharField(_("rental channel"), max_length=10, choices=RentalChannel.choices)
    monthly_rent = models.DecimalField(_("monthly rent (yuan)"), max_digits=10, decimal_places=2)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True)

    class Meta:
        verbose_name = _("rental")
        verbose_name_plural = _("rentals")
        ordering = ["-start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                name="registry_rental_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(monthly_rent__gte=0), name="registry_rental_rent_non_negative"
            ),
        ]
        permissions = [
            ("retire_rental", "Can retire a rental"),
            ("export_rental", "Can export rentals"),
        ]

    def __str__(self) -> str:
        return f"{self.house} {self.start:%Y-%m-%d}"


class TagCategory(models.Model):
    """A category of the configurable tag taxonomy (SPEC §3's care tags are shipped)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=50)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("tag category")
        verbose_name_plural = _("tag categories")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    category = models.ForeignKey(
        TagCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="tags"
    )
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=50)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["category__order", "order", "code"]

    def __str__(self) -> str:
        return self.name


class PersonTagQuerySet(ScopedQuerySet):
    def current(self) -> Any:
        return self.filter(removed_at__isnull=True)


class PersonTag(models.Model):
    """A tag on a person, with who tagged and when; removal keeps the row for history."""

    scope_path = "person__region__code"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="person_links")
    note = models.CharField(_("note"), max_length=200, blank=True)
    tagged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tagged_at = models.DateTimeField(_("tagged"), default=timezone.now)
    removed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    objects = PersonTagQuerySet.as_manager()

    class Meta:
        verbose_name = _("person tag")
        verbose_name_plural = _("person tags")
        ordering = ["-tagged_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "tag"],
                condition=Q(removed_at__isnull=True),
                name="registry_persontag_unique_current",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.tag}"


class ImportJob(models.Model):
    """One Excel import, run in the background; its counts drive the progress bar."""

    scope_path = "region__code"

    region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("target region"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    source = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("rows created"), default=0)
    updated_count = models.PositiveIntegerField(_("rows updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    error_file = models.FileField(_("error file"), upload_to="imports/errors/%Y/%m/", blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.original_name}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))
