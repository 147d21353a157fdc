"""Scriptable OCPP charger simulators: ocpp16.ChargePoint16, ocpp201.ChargingStation201."""
