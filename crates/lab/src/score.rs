pub fn _stub(){}
