

def test_redis_keys_carry_the_configured_prefix():
    from idp.services.throttle import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/14", "idp-staging:")
    assert store._name("user:7") == "idp-staging:throttle:user:7"
    assert RedisStore("redis://127.0.0.1:6379/14")._name("ip:1.2.3.4") == "idp:throttle:ip:1.2.3.4"
