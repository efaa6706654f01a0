from sqlalchemy import func, select

from qbank.services.delivery.item_pool import load_exam_pool
from qbank.services.demo.seeding import seed_demo
from qbank.store.models import UserResponse


def test_seed_demo_is_idempotent_and_realistic(session_factory):
    first = seed_demo(session_factory, "demo", n_responses=3000)
    assert first.created >= 600
    assert first.responses == 3000
    again = seed_demo(session_factory, "demo", n_responses=3000)
    assert (again.created, again.existing, again.responses) == (0, first.created, 0)
    pool = load_exam_pool(session_factory, "demo", first.exam_code)
    assert pool.n_items == first.created
    assert len(set(pool.topics)) >= 10
    assert float(pool.items.a.std()) > 0.1  # calibrated, not the defaults
    with session_factory() as session:
        responses = session.scalar(select(func.count()).select_from(UserResponse))
        correct = session.scalar(
            select(func.count()).select_from(UserResponse).where(UserResponse.is_correct)
        )
    assert responses == 3000
    assert 0.4 < correct / responses < 0.8  # 3PL answers of N(0, 1) students
