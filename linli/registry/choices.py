"""Kinds and states of the register, with their Chinese labels (through gettext)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CompoundKind(models.TextChoices):
    CLOSED = "closed", _("Closed compound")
    OPEN = "open", _("Open compound")


class HouseUse(models.TextChoices):
    OWNER_OCCUPIED = "owner_occupied", _("Owner-occupied")
    RENTED = "rented", _("Rented")
    VACANT = "vacant", _("Vacant")
    COMMERCIAL = "commercial", _("Commercial")
    OTHER = "other", _("Other use")


HOUSE_USE_COLOURS = {
    HouseUse.OWNER_OCCUPIED: "#2563eb",
    HouseUse.RENTED: "#d97706",
    HouseUse.VACANT: "#9ca3af",
    HouseUse.COMMERCIAL: "#7c3aed",
    HouseUse.OTHER: "#0f766e",
}


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class RegistrationType(models.TextChoices):
    """户籍 / 常住 / 流动."""

    REGISTERED = "registered", _("Registered population")
    PERMANENT = "permanent", _("Permanent population")
    FLOATING = "floating", _("Floating population")


class Education(models.TextChoices):
    NONE = "none", _("No schooling")
    PRIMARY = "primary", _("Primary school")
    JUNIOR = "junior", _("Junior middle school")
    SENIOR = "senior", _("Senior middle school / technical school")
    COLLEGE = "college", _("College")
    BACHELOR = "bachelor", _("Bachelor")
    POSTGRADUATE = "postgraduate", _("Postgraduate")
    UNKNOWN = "unknown", _("Unknown")


class Employment(models.TextChoices):
    EMPLOYED = "employed", _("Employed")
    SELF_EMPLOYED = "self_employed", _("Self-employed")
    UNEMPLOYED = "unemployed", _("Unemployed")
    RETIRED = "retired", _("Retired from work")
    STUDENT = "student", _("Student")
    FARMER = "farmer", _("Farmer")
    OTHER = "other", _("Other employment")
    UNKNOWN = "unknown", _("Unknown")


class PoliticalStatus(models.TextChoices):
    CPC_MEMBER = "cpc_member", _("CPC member")
    CPC_PROBATIONARY = "cpc_probationary", _("CPC probationary member")
    CYL_MEMBER = "cyl_member", _("Communist Youth League member")
    DEMOCRATIC_PARTY = "democratic_party", _("Member of a democratic party")
    MASSES = "masses", _("The masses")


class ResidenceRelation(models.TextChoices):
    OWNER = "owner", _("Owner")
    TENANT = "tenant", _("Tenant")
    FAMILY = "family", _("Family member")
    OTHER = "other", _("Other resident")


class HeadRelation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Father or mother")
    GRANDPARENT = "grandparent", _("Grandparent")
    GRANDCHILD = "grandchild", _("Grandchild")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other relative")
    NONE = "none", _("Not related")


class OrganisationKind(models.TextChoices):
    DEPARTMENT = "department", _("Government department")
    PARTY = "party", _("Party organisation")
    SOCIAL = "social", _("Social organisation")
    PROPERTY = "property", _("Property company")
    MERCHANT = "merchant", _("Merchant")
    OTHER = "other", _("Other organisation")


class RentalMode(models.TextChoices):
    WHOLE = "whole", _("Whole flat")
    SHARED = "shared", _("Shared flat")
    ROOM = "room", _("Single room")


class RentalChannel(models.TextChoices):
    SELF = "self", _("Landlord directly")
    AGENCY = "agency", _("Agency")
    PLATFORM = "platform", _("Online platform")
    EMPLOYER = "employer", _("Employer dormitory")
    OTHER = "other", _("Other channel")


# Age bands of the dashboards; the 60+ line is the standard's elderly-services threshold.
AGE_BANDS: list[tuple[str, int, int | None]] = [
    ("0-17", 0, 17),
    ("18-34", 18, 34),
    ("35-59", 35, 59),
    ("60-79", 60, 79),
    ("80+", 80, None),
]
ELDERLY_AGE = 60


class ImportKind(models.TextChoices):
    PLACES = "places", _("Compounds, buildings and houses")
    PEOPLE = "people", _("People with residences")
    VEHICLES = "vehicles", _("Vehicles")
    ORGANISATIONS = "organisations", _("Organisations")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")
