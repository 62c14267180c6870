"""The sheets of the import templates: one column list per kind, in the order of the template.

Headers and instructions are literal Chinese: the sheet is an exchange format community workers
fill in, not UI text, and it must read the same whatever the interface language.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from django.db.models import TextChoices
from django.utils import translation

from linli.registry.choices import (
    CompoundKind,
    Education,
    Employment,
    Gender,
    HeadRelation,
    HouseUse,
    ImportKind,
    OrganisationKind,
    PoliticalStatus,
    RegistrationType,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)

ERROR_HEADER = "错误原因"
INSTRUCTIONS_SHEET = "填写说明"
EXAMPLES_SHEET = "示例"


class SheetChoices(Mapping[str, str]):
    """Labels written in the sheet → stored value, for one choice class of the models.

    The labels are the ones the forms show: the choice class's labels in Simplified Chinese,
    whatever the interface language (the sheet is an exchange format). They come first, so
    templates and exports write them; ``aliases`` are older or shorter spellings the importer
    still accepts, so files filled in before keep importing. Built on first use: the
    translations are not loaded while the apps are.
    """

    def __init__(
        self, choices: type[TextChoices] | None, aliases: Mapping[str, str] | None = None
    ) -> None:
        self._choices = choices
        self._aliases = dict(aliases or {})
        self._labels: dict[str, str] | None = None
        self._canonical: dict[str, str] = {}

    def _mapping(self) -> dict[str, str]:
        if self._labels is None:
            labels: dict[str, str] = {}
            if self._choices is not None:
                with translation.override("zh-hans"):
                    labels = {str(label): str(value) for value, label in self._choices.choices}
            for alias, value in self._aliases.items():
                labels.setdefault(alias, str(value))
            canonical: dict[str, str] = {}
            for label, value in labels.items():
                canonical.setdefault(value, label)
            self._canonical = canonical
            self._labels = labels
        return self._labels

    def label(self, value: str) -> str:
        """The label the forms show for a stored value (the value itself if unknown)."""
        self._mapping()
        return self._canonical.get(value, value)

    def canonical_labels(self) -> list[str]:
        """The labels templates list and exports write: one per value, as the forms show it."""
        self._mapping()
        return list(self._canonical.values())

    def __getitem__(self, label: str) -> str:
        return self._mapping()[label]

    def __contains__(self, label: object) -> bool:
        return label in self._mapping()

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())


REGISTRATION_TYPES = SheetChoices(
    RegistrationType,
    {
        "户籍": RegistrationType.REGISTERED,
        "常住": RegistrationType.PERMANENT,
        "流动": RegistrationType.FLOATING,
    },
)
EDUCATION = SheetChoices(Education, {"高中": Education.SENIOR, "中专": Education.SENIOR})
EMPLOYMENT = SheetChoices(
    Employment,
    {
        # The spellings of the first templates.
        "在业": Employment.EMPLOYED,
        "个体": Employment.SELF_EMPLOYED,
        "失业": Employment.UNEMPLOYED,
        "退休": Employment.RETIRED,
        "其他": Employment.OTHER,
    },
)
POLITICAL_STATUS = SheetChoices(PoliticalStatus)
RESIDENCE_RELATIONS = SheetChoices(
    ResidenceRelation,
    {
        "业主": ResidenceRelation.OWNER,
        "租户": ResidenceRelation.TENANT,
        "其他": ResidenceRelation.OTHER,
    },
)
HEAD_RELATIONS = SheetChoices(
    HeadRelation,
    {
        "本人": HeadRelation.HEAD,
        "祖父母": HeadRelation.GRANDPARENT,
        "孙子女": HeadRelation.GRANDCHILD,
    },
)
HOUSE_USES = SheetChoices(HouseUse, {"其他": HouseUse.OTHER})
COMPOUND_KINDS = SheetChoices(
    CompoundKind,
    {
        "封闭式": CompoundKind.CLOSED,
        "封闭": CompoundKind.CLOSED,
        "开放式": CompoundKind.OPEN,
        "开放": CompoundKind.OPEN,
    },
)
ORGANISATION_KINDS = SheetChoices(OrganisationKind, {"其他": OrganisationKind.OTHER})
YES_NO = SheetChoices(None, {"是": "1", "否": "0"})
GENDERS = SheetChoices(Gender)
RENTAL_MODES = SheetChoices(RentalMode, {"单间": RentalMode.ROOM})
RENTAL_CHANNELS = SheetChoices(RentalChannel, {"其他": RentalChannel.OTHER})

# The 56 nationalities of the national standard (GB/T 3304), plus the two catch-alls it defines.
ETHNICITIES: frozenset[str] = frozenset(
    [
        "汉族",
        "蒙古族",
        "回族",
        "藏族",
        "维吾尔族",
        "苗族",
        "彝族",
        "壮族",
        "布依族",
        "朝鲜族",
        "满族",
        "侗族",
        "瑶族",
        "白族",
        "土家族",
        "哈尼族",
        "哈萨克族",
        "傣族",
        "黎族",
        "傈僳族",
        "佤族",
        "畲族",
        "高山族",
        "拉祜族",
        "水族",
        "东乡族",
        "纳西族",
        "景颇族",
        "柯尔克孜族",
        "土族",
        "达斡尔族",
        "仫佬族",
        "羌族",
        "布朗族",
        "撒拉族",
        "毛南族",
        "仡佬族",
        "锡伯族",
        "阿昌族",
        "普米族",
        "塔吉克族",
        "怒族",
        "乌孜别克族",
        "俄罗斯族",
        "鄂温克族",
        "德昂族",
        "保安族",
        "裕固族",
        "京族",
        "塔塔尔族",
        "独龙族",
        "鄂伦春族",
        "赫哲族",
        "门巴族",
        "珞巴族",
        "基诺族",
        "其他",
        "外国血统中国籍人士",
    ]
)


def label_of(choices: Mapping[str, str], value: str) -> str:
    """The first (canonical) label of a stored value, for exports and error files."""
    if isinstance(choices, SheetChoices):
        return choices.label(value)
    for label, stored in choices.items():
        if stored == value:
            return label
    return value


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str = "text"  # text, int, decimal, bool, date, choice, id_number, mobile, credit_code
    required: bool = False
    choices: Mapping[str, str] | None = None
    max_length: int = 100
    help: str = ""
    example: str = ""

    def allowed(self) -> str:
        if self.kind == "bool":
            return "是 / 否（留空为否）"
        if self.choices:
            seen: list[str] = []
            for label, value in self.choices.items():
                if label_of(self.choices, value) == label:
                    seen.append(label)
            return " / ".join(seen)
        if self.kind == "date":
            return "日期，如 2024-03-01"
        if self.kind == "int":
            return "整数"
        if self.kind == "decimal":
            return "数字"
        return ""


@dataclass(frozen=True)
class Sheet:
    kind: str
    name: str
    columns: tuple[Column, ...]
    examples: tuple[tuple[str, ...], ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


USE_SET_BY_HAND = "用途为手工设定"

_COMMUNITY = Column(
    "社区代码",
    "community_code",
    required=True,
    max_length=15,
    help="12 位社区代码（或 15 位网格代码），必须在本次导入选定的目标区域内",
    example="370124001022",
)
_ADDRESS = (
    Column("小区名称", "compound", max_length=100, help="房屋所在小区的名称", example="锦源小区"),
    Column("楼栋号", "building", max_length=20, help="如 1、1号楼", example="1"),
    Column("单元号", "unit", max_length=20, help="如 1、1单元", example="1"),
    Column("房号", "house", max_length=20, help="如 101、1502", example="101"),
)

PLACES = Sheet(
    kind=ImportKind.PLACES,
    name="房屋",
    columns=(
        _COMMUNITY,
        Column(
            "小区名称",
            "compound",
            required=True,
            max_length=100,
            help="小区名称；不存在时新建",
            example="锦源小区",
        ),
        Column(
            "小区类型",
            "compound_kind",
            "choice",
            choices=COMPOUND_KINDS,
            help="新建小区时使用，留空为封闭式小区",
            example="封闭式小区",
        ),
        Column(
            "楼栋号", "building", required=True, max_length=20, help="楼栋不存在时新建", example="1"
        ),
        Column(
            "地上层数",
            "floors_above",
            "int",
            help="新建楼栋的地上层数，留空取本表该楼最高楼层",
            example="6",
        ),
        Column("地下层数", "floors_below", "int", help="留空为 0", example="1"),
        Column("是否有电梯", "has_elevator", "bool", example="否"),
        Column("单元号", "unit", required=True, max_length=20, help="如 1 或 1单元", example="1"),
        Column("房号", "house", required=True, max_length=20, help="同一单元内唯一", example="101"),
        Column("楼层", "floor", "int", required=True, help="地下层填负数", example="1"),
        Column("面积", "area_m2", "decimal", help="建筑面积，平方米", example="89.5"),
        Column(
            "用途",
            "use",
            "choice",
            choices=HOUSE_USES,
            help="留空时由居住情况推定（有承租人为出租，有住户为自住，无人为空置）",
            example="",
        ),
        Column("千兆", "has_gigabit", "bool", help="是否千兆光纤入户", example="是"),
        Column("有线电视/IPTV", "has_cable_tv", "bool", example="是"),
        Column("远程水表", "has_remote_water_meter", "bool", example="否"),
        Column("远程电表", "has_remote_electricity_meter", "bool", example="是"),
        Column("远程气表", "has_remote_gas_meter", "bool", example="否"),
        # Last, so sheets written before it existed still line up. An export writes the
        # effective use in 用途 and 否 here when that use follows the residences.
        Column(
            USE_SET_BY_HAND,
            "use_set_by_hand",
            "choice",
            choices=YES_NO,
            help="填“否”表示用途由居住情况推定，导入时不按“用途”列固定；"
            "填“是”或留空时，填写的用途即为手工设定",
            example="",
        ),
    ),
    examples=(
        (
            "370124001022",
            "锦源小区",
            "封闭式小区",
            "1",
            "6",
            "1",
            "否",
            "1",
            "101",
            "1",
            "89.5",
            "",
            "是",
            "是",
            "否",
            "是",
            "否",
            "",
        ),
        (
            "370124001022",
            "锦源小区",
            "封闭式小区",
            "1",
            "6",
            "1",
            "否",
            "1",
            "102",
            "1",
            "92",
            "商用",
            "否",
            "否",
            "否",
            "否",
            "否",
            "是",
        ),
    ),
    notes=(
        "一行一套房屋；小区、楼栋、单元不存在时按本行信息新建，已存在时沿用。",
        "同一房屋按 社区代码 + 小区名称 + 楼栋号 + 单元号 + 房号 识别，重复导入不会重复建档。",
    ),
)

PEOPLE = Sheet(
    kind=ImportKind.PEOPLE,
    name="人员",
    columns=(
        Column("姓名", "name", required=True, max_length=50, example="张伟"),
        Column(
            "身份证号",
            "id_number",
            "id_number",
            required=True,
            max_length=18,
            help="18 位居民身份证号，请以文本格式填写（末位 X 大写），系统校验校验位并据此识别人员",
            example="370124198503070016",
        ),
        Column(
            "手机号", "phone", "mobile", max_length=20, help="11 位手机号", example="13853112345"
        ),
        Column(
            "登记类型",
            "registration_type",
            "choice",
            required=True,
            choices=REGISTRATION_TYPES,
            example="户籍人口",
        ),
        Column(
            "民族", "ethnicity", max_length=20, help="如 汉族、回族；留空为汉族", example="汉族"
        ),
        Column(
            "文化程度", "education", "choice", choices=EDUCATION, help="留空为不详", example="本科"
        ),
        Column(
            "就业状况",
            "employment",
            "choice",
            choices=EMPLOYMENT,
            help="留空为不详",
            example="在职",
        ),
        Column(
            "政治面貌",
            "political_status",
            "choice",
            choices=POLITICAL_STATUS,
            help="留空为群众",
            example="群众",
        ),
        _COMMUNITY,
        *_ADDRESS,
        Column(
            "与房屋关系",
            "relation",
            "choice",
            choices=RESIDENCE_RELATIONS,
            help="填写了房屋时必填",
            example="产权人",
        ),
        Column("与户主关系", "head_relation", "choice", choices=HEAD_RELATIONS, example="户主"),
        Column(
            "入住日期",
            "moved_in",
            "date",
            help="填写了房屋时必填，不得晚于今天",
            example="2015-06-01",
        ),
    ),
    examples=(
        (
            "张伟",
            "370124198503070016",
            "13853112345",
            "户籍人口",
            "汉族",
            "本科",
            "在职",
            "群众",
            "370124001022",
            "锦源小区",
            "1",
            "1",
            "101",
            "产权人",
            "户主",
            "2015-06-01",
        ),
        (
            "李娜",
            "370124198708120048",
            "",
            "常住人口",
            "回族",
            "大专",
            "个体经营",
            "中共党员",
            "370124001022",
            "锦源小区",
            "1",
            "1",
            "101",
            "家庭成员",
            "配偶",
            "2015-06-01",
        ),
        (
            "王强",
            "370124199201150314",
            "13953154321",
            "流动人口",
            "汉族",
            "高中/中专",
            "在职",
            "群众",
            "370124001022",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ),
    ),
    notes=(
        "一行一人；按身份证号识别人员，已登记的人员只更新有变化的字段，重复导入不会重复建档。",
        "小区名称、楼栋号、单元号、房号要么全填（房屋必须已在系统中），要么全部留空（只登记人员）。",
        "填写房屋时登记为该人员的主要住所；原主要住所在新入住日期结束。",
    ),
)

VEHICLES = Sheet(
    kind=ImportKind.VEHICLES,
    name="车辆",
    columns=(
        Column(
            "车牌号",
            "plate",
            "plate",
            required=True,
            max_length=10,
            help="如 鲁A12345 或新能源 鲁AD12345",
            example="鲁A12345",
        ),
        _COMMUNITY,
        Column(
            "小区名称",
            "compound",
            max_length=100,
            help="停放小区，须已在系统中",
            example="锦源小区",
        ),
        Column(
            "车主身份证号",
            "owner_id_number",
            "id_number",
            max_length=18,
            help="车主须已登记；以文本格式填写",
            example="370124198503070016",
        ),
        Column("说明", "description", max_length=100, help="颜色、品牌等", example="白色轿车"),
    ),
    examples=(("鲁A12345", "370124001022", "锦源小区", "370124198503070016", "白色轿车"),),
    notes=("按车牌号识别车辆，重复导入不会重复建档。",),
)

ORGANISATIONS = Sheet(
    kind=ImportKind.ORGANISATIONS,
    name="组织",
    columns=(
        Column("名称", "name", required=True, max_length=200, example="平阴县锦源物业服务有限公司"),
        Column(
            "类型", "kind", "choice", required=True, choices=ORGANISATION_KINDS, example="物业公司"
        ),
        Column(
            "统一社会信用代码",
            "credit_code",
            "credit_code",
            max_length=18,
            help="18 位，系统校验校验码；政府部门、党组织可留空",
            example="91370124MAAY4CL12F",
        ),
        _COMMUNITY,
        Column("地址", "address", max_length=200, example="榆山街道锦源路 1 号"),
        Column("联系人", "contact_name", max_length=50, example="赵敏"),
        Column("联系电话", "contact_phone", "mobile", max_length=20, example="13853112345"),
    ),
    examples=(
        (
            "平阴县锦源物业服务有限公司",
            "物业公司",
            "91370124MAAY4CL12F",
            "370124001022",
            "榆山街道锦源路 1 号",
            "赵敏",
            "13853112345",
        ),
    ),
    notes=("有统一社会信用代码的按代码识别，否则按 社区代码 + 名称 识别；重复导入不会重复建档。",),
)

SHEETS: dict[str, Sheet] = {
    sheet.kind: sheet for sheet in (PLACES, PEOPLE, VEHICLES, ORGANISATIONS)
}

# The permission each import needs (registry.import_<model>).
IMPORT_PERMISSIONS: dict[str, str] = {
    ImportKind.PLACES: "registry.import_compound",
    ImportKind.PEOPLE: "registry.import_person",
    ImportKind.VEHICLES: "registry.import_vehicle",
    ImportKind.ORGANISATIONS: "registry.import_organisation",
}


# --- export-only sheets ------------------------------------------------------------------
# Kinds no import template reads back (a compound, building or unit without houses has no row
# in the 房屋 sheet; households, residences and rentals are registered through the pages and the
# people sheet). Their exports are lists for the worker, in the same literal Chinese.


@dataclass(frozen=True)
class ExportSheet:
    name: str
    headers: tuple[str, ...]


COMPOUND_EXPORT = ExportSheet(
    "小区",
    (
        "社区代码", "所属区域", "小区名称", "小区类型", "物业公司", "地址", "面积",
        "纬度", "经度", "楼栋数", "房屋数",
    ),
)  # fmt: skip
BUILDING_EXPORT = ExportSheet(
    "楼栋",
    (
        "社区代码", "所属区域", "小区名称", "楼栋号", "地上层数", "地下层数", "是否住宅",
        "是否有电梯", "单元数", "房屋数", "纬度", "经度",
    ),
)  # fmt: skip
UNIT_EXPORT = ExportSheet(
    "单元", ("社区代码", "所属区域", "小区名称", "楼栋号", "单元号", "房屋数")
)
HOUSEHOLD_EXPORT = ExportSheet(
    "户",
    ("社区代码", "所属区域", "户号", "户主姓名", "户主身份证号", "房屋地址", "户内人数"),
)
RESIDENCE_EXPORT = ExportSheet(
    "人房关联",
    (
        "姓名", "身份证号", "社区代码", "小区名称", "楼栋号", "单元号", "房号", "房屋地址",
        "与房屋关系", "与户主关系", "入住日期", "迁出日期", "是否主要住所",
    ),
)  # fmt: skip
RENTAL_EXPORT = ExportSheet(
    "租赁",
    (
        "社区代码", "房屋地址", "租客姓名", "租客身份证号", "租客人数", "出租方式", "出租渠道",
        "月租金（元）", "起租日期", "到期日期",
    ),
)  # fmt: skip
