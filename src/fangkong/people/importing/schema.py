"""The columns of a people ledger and the words its cells use (证件类型, 性别, 风险等级)."""

from __future__ import annotations

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

# The maps give the choices' plain values, not the enum members: the sqlite3 module binds
# an exact str directly but looks a str subclass up as an adapter first (two enum members
# per row cost an import of 100,000 rows about 0.1 s).
ID_TYPE_WORDS: dict[str, str] = {
    "身份证": IdType.MAINLAND.value,
    "居民身份证": IdType.MAINLAND.value,
    "二代身份证": IdType.MAINLAND.value,
    "mainland": IdType.MAINLAND.value,
    "一代身份证": IdType.LEGACY15.value,
    "护照": IdType.PASSPORT.value,
    "passport": IdType.PASSPORT.value,
    "港澳通行证": IdType.HK_MACAU.value,
    "港澳居民来往内地通行证": IdType.HK_MACAU.value,
    "回乡证": IdType.HK_MACAU.value,
    "台胞证": IdType.TAIWAN.value,
    "台湾居民来往大陆通行证": IdType.TAIWAN.value,
    "户口簿": IdType.HOUSEHOLD.value,
    "户口本": IdType.HOUSEHOLD.value,
    "无": IdType.NONE.value,
    "无证件": IdType.NONE.value,
}
SEX_WORDS: dict[str, str] = {
    "男": Sex.MALE.value,
    "女": Sex.FEMALE.value,
    "m": Sex.MALE.value,
    "f": Sex.FEMALE.value,
}
RISK_WORDS: dict[str, str] = {
    "高": OriginRisk.HIGH.value,
    "高风险": OriginRisk.HIGH.value,
    "高风险地区": OriginRisk.HIGH.value,
    "high": OriginRisk.HIGH.value,
    "中": OriginRisk.MEDIUM.value,
    "中风险": OriginRisk.MEDIUM.value,
    "中风险地区": OriginRisk.MEDIUM.value,
    "medium": OriginRisk.MEDIUM.value,
    "低": OriginRisk.LOW.value,
    "低风险": OriginRisk.LOW.value,
    "低风险地区": OriginRisk.LOW.value,
    "low": OriginRisk.LOW.value,
}
