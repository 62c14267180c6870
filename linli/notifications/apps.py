from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "linli.notifications"
    label = "notifications"
