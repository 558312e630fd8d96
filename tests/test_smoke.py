import pytest

from checkstack.entities.models import Change, Transition, TriggerEvent
from tests.testapp.entity import create_widget
from tests.testapp.models import Widget


@pytest.mark.django_db
def test_smoke(widgets):
    state = create_widget(widgets, "w1", tags=["b", "a"], status="open")
    assert state.tagIds == ["a", "b"]
    def bump(prev):
        Widget.objects.filter(id="w1").update(status="closed")
    widgets.mutate("w1", bump)
    widgets.mutate("w1", bump)
    changes = list(widgets.history("w1"))
    assert [c.seq for c in changes] == [1, 2]
    assert changes[1].prev == changes[0].next
    print(changes[0].__dict__, changes[1].__dict__)
    print(list(TriggerEvent.objects.values("event", "payload", "context_key")))
    print(list(Transition.objects.values()))
    widgets.remove("w1", lambda prev: Widget.objects.filter(id="w1").delete())
    assert widgets.history("w1").last().next is None
