"""The self-assessment's part of ``linli demo``: evidenced manual figures for a few communities,
so that the demo shows a spread of tiers, plus one stored assessment and one draft acceptance
publication for the showcase community.

- 锦源社区 (the demo accounts' community, with a synthetic register): every figure the platform
  does not compute, entered by ``jinyuan_worker``. Its live register figures decide the rest, so
  it reaches the highest tier they allow — 基础型 with the default register, whose cable-TV rate
  (79.96 %) stops it one household short of 成长型's 80 %.
- 锦川社区 (no register at the default scale): every figure of 成长型, entered by ``county_op``
  with its evidence (household counts included, as the platform has none) — it reaches 成长型.
- 文昌社区 (no register either): the 基础型 figures except three it has not documented — the
  video compliance rate, the epidemic policy releases and the count of publicity activities —
  so it reaches no tier and its gap lists exactly what evidence is missing.

Everything goes through the services (``enter_manual_figure``, ``store_assessment``,
``draft_publication``), so each figure has its evidence, who entered it and an audit entry. A
metric the platform computes for a community is never entered for it: the register decides.
A count that is a share of another figure (closed compounds with smart access, of all closed
compounds) is taken from that figure — the platform's when it has one — so the demo agrees with
whatever register the demo loaded.

Idempotent: a community that already holds manual figures is left alone, and the showcase's
assessment and publication are made only when it has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.utils import timezone

from linli.assessment import publication as publications
from linli.assessment import security, services
from linli.assessment.figures import registry_figures
from linli.assessment.models import Assessment, ManualFigure, Publication
from linli.assessment.standard import Standard, load_standard
from linli.core.errors import ServiceError
from linli.regions.models import RegionNode

SHOWCASE = "370124001022"  # 锦源社区


@dataclass(frozen=True)
class Share:
    """A count that is ``percent`` of another figure (rounded up), e.g. all closed compounds."""

    of: str
    percent: int = 100


@dataclass(frozen=True)
class DemoCommunity:
    code: str
    account: str  # the demo account that enters the figures
    figures: dict[str, tuple[Any, str]]  # metric → (value or Share, evidence)


@dataclass
class SeededCommunity:
    code: str
    name: str
    entered: int = 0
    already_seeded: bool = False
    tier_reached: str = ""
    problem: str = ""
    missing: list[str] = field(default_factory=list)


@dataclass
class DemoSummary:
    communities: list[SeededCommunity]
    assessment: Assessment | None = None
    publication: Publication | None = None
    assessment_created: bool = False
    publication_created: bool = False


LEDGER = "社区2026年入户摸排台账（户籍及常住家庭，逐户核对）"
COMPOUND_LEDGER = "社区小区名册（含封闭式、开放式小区，物业服务合同备案）"
BUILDING_LEDGER = "社区住宅楼栋台账（含地上层数，住建部门备案）"
VIDEO_REPORT = "平阴县公安局雪亮工程平台视频巡检报表（2026年第三季度）"

# The figures a well-run community documents for 基础型 and 成长型: the household counts and
# the register's other wholes apply only where the platform has no records of the community.
BASIC: dict[str, tuple[Any, str]] = {
    "households_total": (2456, LEDGER),
    "gigabit_households": (2419, "中国联通、中国移动平阴分公司千兆光纤端口开通清单（2026年）"),
    "tv_households": (2390, "平阴县广电网络公司有线电视及IPTV开户清单（2026年）"),
    "community_area_km2": ("0.86平方公里", "平阴县民政局社区界址图（2025年版）"),
    "mobile_5g_area_km2": ("0.86平方公里", "中国移动平阴分公司2026年5G网络覆盖测试报告"),
    "video_key_coverage_rate": ("98%", VIDEO_REPORT),
    "video_networking_rate": ("98%", VIDEO_REPORT),
    "video_camera_intact_rate": ("97%", VIDEO_REPORT),
    "video_image_rate": ("92%", VIDEO_REPORT),
    "video_compliance_rate": ("96%", VIDEO_REPORT + "：编码、名称、行政区划、经纬度核查"),
    "compounds_total": (6, COMPOUND_LEDGER),
    "closed_compounds": (5, COMPOUND_LEDGER),
    "compounds_with_ebikes": (Share("compounds_total"), "社区电动自行车停放摸排台账（2026年）"),
    "compounds_with_ebike_parking": (
        Share("compounds_with_ebikes"),
        "消防救援大队验收的电动自行车集中停放场所清单",
    ),
    "ebike_charging_auto_cutoff": (
        True,
        "各小区集中停放场所均配备充满自动断电的智能充电桩（设备台账及现场照片）",
    ),
    "platform_data_aggregation": (
        True,
        "依托平阴县智慧社区综合信息平台，人、地、事、物、情、组织信息集中汇聚、动态更新",
    ),
    "property_platform_interconnection": (True, "综合信息平台与智慧物业管理服务平台接口联调记录"),
    "smart_scenarios_count": (
        6,
        "整合政务服务、养老服务、出入管理、周界防范、高空抛物监测、消防隐患管理6个应用场景",
    ),
    "gov_one_stop_service": (True, "社区党群服务中心设人工窗口和“爱山东”网上办事体验区"),
    "residents_total": (6120, "社区常住人口统计表（2026年）"),
    "elderly_residents": (1420, "社区60岁及以上老年人花名册（2026年）"),
    "elderly_services_count": (3, "通过智慧养老平台提供助餐、助医、助急3种养老服务"),
    "smart_convenience_facilities": (True, "按需配备智能快件箱4组、智能共享直饮水机3台"),
    "online_utility_payment": (True, "居民可通过“爱山东”及物业APP缴纳水、电、气、暖、物业费"),
    "police_info_release": (True, "综合信息平台社区警务模块：预警发布、警情发布和居民上报记录"),
    "closed_compounds_with_smart_access": (
        Share("closed_compounds"),
        "封闭式小区出入口人脸识别门禁及车辆道闸验收单",
    ),
    "closed_compounds_with_perimeter_protection": (
        Share("closed_compounds"),
        "封闭式小区周界电子围栏及周界视频智能分析设备验收单",
    ),
    "residential_buildings": (58, BUILDING_LEDGER),
    "residential_buildings_19f": (4, BUILDING_LEDGER),
    "residential_buildings_19f_monitored": (
        Share("residential_buildings_19f"),
        "19层及以上住宅高空抛物监控点位图及报警联调记录",
    ),
    "compounds_with_ebike_elevator_detection": (
        Share("compounds_total"),
        "电梯内电动车识别报警系统安装清单（各小区全部电梯）",
    ),
    "residential_buildings_with_fire_alarm": (
        Share("residential_buildings"),
        "住宅楼栋公共区域火灾自动报警系统验收报告",
    ),
    "digital_governance": (True, "社区治理驾驶舱：事件分拨、网格巡查数据辅助决策记录"),
    "party_worker_info_collected": (True, "社区党员名册、社区工作者花名册已在平台统一采集入库"),
    "online_voter_registration": (True, "2026年居委会换届选举网上选民登记记录"),
    "online_deliberation": (True, "综合信息平台“线上议事厅”议事协商记录"),
    "affairs_disclosure": (True, "党务、居务、财务线上公开栏与社区公开栏同步公开截图"),
    "epidemic_info_management": (True, "综合信息平台防控信息管理模块（疫苗接种、重点人员）"),
    "epidemic_policy_release": (True, "社区公众号及平台同步发布防控政策的记录"),
    "publicity_activities_per_year": (4, "2026年智慧社区宣传普及活动记录（4次，含签到表和照片）"),
    "innovation_scenarios": (1, "“邻里帮”志愿服务线上派单创新应用场景"),
}
GROWTH: dict[str, tuple[Any, str]] = {
    **BASIC,
    "remote_meter_households": (2300, "供水、供电、燃气公司远程智能表安装清单（按户去重）"),
    "public_lighting_units": (120, "社区公共照明设施台账"),
    "smart_lighting_units": (108, "智能路灯（远程控制、故障报警）安装验收单"),
    "ebike_charging_timed_fault_alarm": (
        True,
        "智能充电桩具备定时充电、故障报警功能（产品检测报告）",
    ),
    "elderly_living_alone": (46, "社区独居老人关爱台账（2026年）"),
    "elderly_alone_with_emergency_call": (
        Share("elderly_living_alone"),
        "独居老人紧急呼叫器发放登记表（逐人签收）",
    ),
    "emergency_response_15_min": (
        True,
        "紧急呼叫15分钟响应机制：网格员、家庭医生联动值班表及演练记录",
    ),
    "book_corners": (1, "社区党群服务中心共享图书角"),
    "smart_book_cabinets": (1, "社区广场智能共享图书柜1台"),
    "sports_venue_15_min": (True, "步行15分钟可达的社区公园全民健身场地"),
    "compounds_with_smart_waste_sorting": (
        Share("compounds_total"),
        "智能垃圾分类投放点安装清单（覆盖全部小区）",
    ),
    "residential_buildings_12f": (12, BUILDING_LEDGER),
    "residential_buildings_12f_monitored": (
        Share("residential_buildings_12f"),
        "12层及以上住宅高空抛物监控点位图及报警联调记录",
    ),
    "special_population_management": (True, "特殊人群建档立卡台账及平台政策推送记录"),
    "compounds_with_fire_hazard_detection": (
        Share("compounds_total"),
        "消防通道占用、防火门状态自动识别上报系统验收单",
    ),
    "online_deliberations_per_year": (4, "2026年线上议事协商活动记录（4次）"),
    "leadership_mechanism": (True, "社区智慧社区建设领导小组成立文件及工作方案"),
    "operating_entity": (True, "智慧社区运营服务合同（运营主体：平阴县城市运营公司）"),
    "planning_inclusion": (True, "《平阴县新型智慧城市建设规划》智慧社区专章"),
    "innovation_scenarios_city": (1, "“邻里帮”志愿服务线上派单场景获济南市推广（市大数据局通报）"),
    "resident_satisfaction": ("88%", "2026年居民满意度问卷调查（有效问卷412份）"),
}
# 文昌社区 has not documented these: its basic indicators 4, 19 and 20 lack evidence.
UNDOCUMENTED = ("video_compliance_rate", "epidemic_policy_release", "publicity_activities_per_year")

COMMUNITIES = (
    DemoCommunity(SHOWCASE, "jinyuan_worker", GROWTH),
    DemoCommunity(
        "370124001024",  # 锦川社区
        "county_op",
        {
            **GROWTH,
            "households_total": (3120, LEDGER),
            "gigabit_households": (3050, "中国联通、中国移动平阴分公司千兆光纤端口开通清单"),
            "tv_households": (2870, "平阴县广电网络公司有线电视及IPTV开户清单"),
            "remote_meter_households": (2990, "供水、供电、燃气公司远程智能表安装清单"),
            "residents_total": (7830, "社区常住人口统计表（2026年）"),
            "elderly_residents": (1810, "社区60岁及以上老年人花名册（2026年）"),
        },
    ),
    DemoCommunity(
        "370124001016",  # 文昌社区
        "county_op",
        {
            **{k: v for k, v in BASIC.items() if k not in UNDOCUMENTED},
            "households_total": (1980, LEDGER),
            "gigabit_households": (1720, "中国联通平阴分公司千兆光纤端口开通清单"),
            "tv_households": (1650, "平阴县广电网络公司有线电视及IPTV开户清单"),
            "residents_total": (4960, "社区常住人口统计表（2026年）"),
            "elderly_residents": (1650, "社区60岁及以上老年人花名册（2026年）"),
            "elderly_services_count": (2, "通过智慧养老平台提供助餐、助急2种养老服务"),
            "compounds_total": (4, COMPOUND_LEDGER),
            "closed_compounds": (3, COMPOUND_LEDGER),
            "residential_buildings": (41, BUILDING_LEDGER),
            "residential_buildings_19f": (0, BUILDING_LEDGER),
        },
    ),
)


def _platform(standard: Standard, code: str, on: date) -> tuple[set[str], dict[str, Fraction]]:
    """The metrics the platform decides for the community (its live security checks, and what
    its register holds records for) and the register's counts by metric name."""
    computed, _missing = registry_figures(code, on)
    decided: set[str] = set()
    counts: dict[str, Fraction] = {}
    for metric in standard.metrics.values():
        if not metric.platform:
            continue
        figure = computed.get(metric.platform)
        if not metric.overridable or (figure is not None and figure.known):
            decided.add(metric.name)
        if figure is not None and isinstance(figure.value, Fraction):
            counts[metric.name] = figure.value
    return decided, counts


def _seed_community(
    spec: DemoCommunity, actor: Any, standard: Standard, on: date
) -> SeededCommunity:
    region = RegionNode.objects.get(code=spec.code)
    seeded = SeededCommunity(code=region.code, name=region.name)
    if ManualFigure.objects.filter(region=region).exists():
        seeded.already_seeded = True
        return seeded
    skip, known = _platform(standard, region.code, on)
    pending = [(name, value, evidence) for name, (value, evidence) in spec.figures.items()]
    # Wholes first, then their shares (a share of a share after its whole).
    pending.sort(key=lambda entry: isinstance(entry[1], Share))
    with transaction.atomic():
        for name, value, evidence in pending:
            if name in skip:
                continue
            if isinstance(value, Share):
                whole = known.get(value.of)
                if whole is None:
                    seeded.missing.append(name)
                    continue
                value = math.ceil(whole * value.percent / 100)
            figure = services.enter_manual_figure(
                actor,
                region=region,
                metric=name,
                value=value,
                evidence=evidence,
                valid_from=on,
                standard=standard,
            )
            if figure.number is not None:
                known[name] = Fraction(figure.number)
            seeded.entered += 1
    return seeded


def seed(users: dict[str, Any], *, on: date | None = None) -> DemoSummary:
    """Enter the demo communities' figures, then store the showcase's assessment and draft its
    publication (each only once)."""
    with security.one_scan_per_run():
        return _seed(users, on or timezone.localdate())


def _seed(users: dict[str, Any], on: date) -> DemoSummary:
    standard = load_standard()
    summary = DemoSummary(communities=[])
    for spec in COMMUNITIES:
        try:
            seeded = _seed_community(spec, users[spec.account], standard, on)
        except ServiceError as exc:
            region = RegionNode.objects.filter(code=spec.code).first()
            seeded = SeededCommunity(
                code=spec.code, name=region.name if region else spec.code, problem=str(exc.message)
            )
        summary.communities.append(seeded)
    worker = users[COMMUNITIES[0].account]
    showcase = RegionNode.objects.get(code=SHOWCASE)
    summary.assessment = (
        Assessment.objects.filter(region=showcase).order_by("-on", "-computed_at", "-id").first()
    )
    if summary.assessment is None:
        summary.assessment = services.store_assessment(worker, showcase, on=on, standard=standard)
        summary.assessment_created = True
    summary.publication = Publication.objects.filter(region=showcase).order_by("-id").first()
    if summary.publication is None:
        assessment = summary.assessment
        tier = assessment.tier_reached or assessment.next_tier or standard.tiers[0].key
        summary.publication = publications.draft_publication(worker, assessment, tier)
        summary.publication_created = True
    for seeded in summary.communities:
        region = RegionNode.objects.get(code=seeded.code)
        result = services.evaluate_community(region, tier="basic", on=on, standard=standard)
        seeded.tier_reached = result.reached.name if result.reached else ""
    return summary
