"""One router for the whole API; each app registers its viewsets in its ``api.py``."""

from rest_framework.routers import DefaultRouter

from linli.accounts import api as accounts_api
from linli.assessment import api as assessment_api
from linli.assessment import api_publication as assessment_publication_api
from linli.audit import api as audit_api
from linli.events import api as events_api
from linli.regions import api as regions_api
from linli.registry import api as registry_api
from linli.registry import api_excel as registry_excel_api

router = DefaultRouter()
regions_api.register(router)
accounts_api.register(router)
audit_api.register(router)
registry_api.register(router)
registry_excel_api.register(router)
assessment_api.register(router)
assessment_publication_api.register(router)
events_api.register(router)

urlpatterns = router.urls
