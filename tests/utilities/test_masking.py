from linli.utilities.masking import mask_id_number, mask_name, mask_phone


def test_id_number_keeps_region_and_last_four() -> None:
    assert mask_id_number("370102199001011234") == "370102********1234"


def test_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("13812345678") == "138****5678"


def test_name_keeps_first_character() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def test_empty_values_stay_empty_and_short_values_are_fully_hidden() -> None:
    assert mask_id_number("") == "" and mask_phone("") == "" and mask_name("") == ""
    assert mask_phone("12345") == "*****"
    assert mask_id_number("12345") == "*****"
