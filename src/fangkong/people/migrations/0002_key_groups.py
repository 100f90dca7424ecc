"""The usual key groups (重点人群); HQ can add, rename or retire them."""

from django.db import migrations

KEY_GROUPS = [
    ("close_contact", "密切接触者", 10),
    ("secondary_contact", "密接的密接", 20),
    ("risk_area", "中高风险地区来返人员", 30),
    ("bedridden", "卧床不起", 40),
    ("elderly_alone", "独居老人", 50),
    ("pregnant", "孕产妇", 60),
    ("chronic", "慢性病患者", 70),
    ("child", "儿童", 80),
    ("disabled", "残疾人", 90),
]


def add_groups(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    for code, name, priority in KEY_GROUPS:
        KeyGroup.objects.get_or_create(code=code, defaults={"name": name, "priority": priority})


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(add_groups, migrations.RunPython.noop)]
