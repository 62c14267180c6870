from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "linli.assessment"
    label = "assessment"
