def test_home_as_worker(world, login):
    c = login(world.worker)
    r = c.get("/home")
    assert r.status_code == 200
    assert "Worker" in r.get_data(as_text=True) or world.worker.display_name in r.get_data(as_text=True)
