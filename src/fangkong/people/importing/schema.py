"""The columns of a people ledger and the words its cells use (证件类型, 性别, 风险等级)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy

from fangkong.core.importing.headers import FieldSpec, ImportSchema
from fangkong.people.identity import IdType, Sex
from fangkong.people.models import OriginRisk

JOB_KIND = "people.import"

PEOPLE_SCHEMA = ImportSchema(
    [
        FieldSpec("name", gettext_lazy("Name"), ("姓名", "名字", "人员姓名", "name"), True),
        FieldSpec("id_type", gettext_lazy("Document type"), ("证件类型", "document type")),
        FieldSpec(
            "id_number",
            gettext_lazy("Document number"),
            (
                "身份证号",
                "身份证号码",
                "身份证",
                "公民身份号码",
                "证件号码",
                "证件号",
                "id number",
                "id",
            ),
        ),
        FieldSpec("sex", gettext_lazy("Sex"), ("性别", "sex", "gender")),
        FieldSpec("birth_date", gettext_lazy("Birth date"), ("出生日期", "出生年月", "birth date")),
        FieldSpec(
            "phone",
            gettext_lazy("Phone"),
            ("联系电话", "手机号", "手机号码", "电话", "联系方式", "phone", "mobile"),
        ),
        FieldSpec(
            "address",
            gettext_lazy("Address"),
            ("住址", "现住址", "家庭住址", "详细地址", "居住地址", "address"),
        ),
        FieldSpec(
            "village",
            gettext_lazy("Village"),
            ("所属村", "村(社区)", "所属村(社区)", "村社区", "村", "村庄", "社区", "village"),
        ),
        FieldSpec("notes", gettext_lazy("Notes"), ("备注", "notes", "note")),
        FieldSpec(
            "arrival_date",
            gettext_lazy("Arrival date"),
            ("返乡日期", "返回日期", "到达日期", "抵达日期", "返乡时间", "arrival date"),
        ),
        FieldSpec(
            "origin",
            gettext_lazy("Origin"),
            ("来源地", "从何地返回", "从何地返乡", "返回地", "出发地", "origin"),
        ),
        FieldSpec("transport", gettext_lazy("Transport"), ("交通方式", "交通工具", "transport")),
        FieldSpec(
            "origin_risk",
            gettext_lazy("Risk level of the origin"),
            ("来源地风险等级", "风险等级", "origin risk"),
        ),
        FieldSpec(
            "key_group",
            gettext_lazy("Key group"),
            ("人员类别", "重点人群", "人员分类", "key group"),
        ),
    ]
)

# What the checks give is the choices' plain values, not the enum members: the sqlite3
# module binds an exact str directly but looks a str subclass up as an adapter first (two
# enum members per row cost an import of 100,000 rows about 0.1 s).
MAINLAND: str = IdType.MAINLAND.value
LEGACY15: str = IdType.LEGACY15.value
PASSPORT: str = IdType.PASSPORT.value
NO_DOCUMENT: str = IdType.NONE.value
MALE: str = Sex.MALE.value
FEMALE: str = Sex.FEMALE.value


def _plain(words: Mapping[str, TextChoices]) -> dict[str, str]:
    return {word: choice.value for word, choice in words.items()}


ID_TYPE_WORDS = _plain(
    {
        "身份证": IdType.MAINLAND,
        "居民身份证": IdType.MAINLAND,
        "二代身份证": IdType.MAINLAND,
        "mainland": IdType.MAINLAND,
        "一代身份证": IdType.LEGACY15,
        "护照": IdType.PASSPORT,
        "passport": IdType.PASSPORT,
        "港澳通行证": IdType.HK_MACAU,
        "港澳居民来往内地通行证": IdType.HK_MACAU,
        "回乡证": IdType.HK_MACAU,
        "台胞证": IdType.TAIWAN,
        "台湾居民来往大陆通行证": IdType.TAIWAN,
        "户口簿": IdType.HOUSEHOLD,
        "户口本": IdType.HOUSEHOLD,
        "无": IdType.NONE,
        "无证件": IdType.NONE,
    }
)
SEX_WORDS = _plain({"男": Sex.MALE, "女": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE})
RISK_WORDS = _plain(
    {
        "高": OriginRisk.HIGH,
        "高风险": OriginRisk.HIGH,
        "高风险地区": OriginRisk.HIGH,
        "high": OriginRisk.HIGH,
        "中": OriginRisk.MEDIUM,
        "中风险": OriginRisk.MEDIUM,
        "中风险地区": OriginRisk.MEDIUM,
        "medium": OriginRisk.MEDIUM,
        "低": OriginRisk.LOW,
        "低风险": OriginRisk.LOW,
        "低风险地区": OriginRisk.LOW,
        "low": OriginRisk.LOW,
    }
)
