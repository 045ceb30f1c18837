# Mitosis watches (a watch edge names the TaskExecState awaited) and the index of /tasks/query.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobdependency",
            name="watch",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(condition=models.Q(("workflow__isnull", True)), fields=["group", "id"],
                               name="job_task_by_group"),
        ),
        migrations.AddIndex(
            model_name="jobdependency",
            index=models.Index(condition=models.Q(("watch__isnull", False)), fields=["depends_on"],
                               name="job_dependency_watch"),
        ),
    ]
